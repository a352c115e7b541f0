// A stand-in for the few UnityEngine types the package's glue uses, so CI can
// type-check NpcDialogue and the sample against the real core (no UnityEngine
// assembly is available here). Signatures follow Unity 2022.3's documented API;
// bodies do nothing. Passing this compile proves the glue uses *our* API
// correctly, not that it runs in Unity.
#pragma warning disable CS0067, CS1591
using System;

namespace UnityEngine
{
    public class Object
    {
        public string name { get; set; } = "";
        public static void Destroy(Object obj) { }
        public static T Instantiate<T>(T original) where T : Object => original;
        public static T? FindObjectOfType<T>() where T : Object => null;
    }

    public class Component : Object
    {
        public GameObject gameObject => new GameObject();
        public Transform transform => new Transform();
        public T GetComponent<T>() => default!;
    }

    public class Behaviour : Component
    {
        public bool enabled { get; set; }
    }

    public class MonoBehaviour : Behaviour { }

    public class Transform : Component
    {
        public void SetParent(Transform parent, bool worldPositionStays) { }
        public int childCount => 0;
        public Transform GetChild(int index) => this;
    }

    public class RectTransform : Transform
    {
        public Vector2 anchorMin { get; set; }
        public Vector2 anchorMax { get; set; }
        public Vector2 offsetMin { get; set; }
        public Vector2 offsetMax { get; set; }
        public Vector2 sizeDelta { get; set; }
        public Vector2 anchoredPosition { get; set; }
        public Vector2 pivot { get; set; }
    }

    public sealed class GameObject : Object
    {
        public GameObject() { }
        public GameObject(string name, params Type[] components) { }
        public T AddComponent<T>() where T : Component, new() => new T();
        public T GetComponent<T>() => default!;
        public Transform transform => new Transform();
        public void SetActive(bool value) { }
    }

    public struct Vector2
    {
        public Vector2(float x, float y) { this.x = x; this.y = y; }
        public float x, y;
        public static Vector2 zero => default;
        public static Vector2 one => new Vector2(1, 1);
    }

    public struct Color
    {
        public Color(float r, float g, float b, float a = 1) { this.r = r; this.g = g; this.b = b; this.a = a; }
        public float r, g, b, a;
        public static Color white => new Color(1, 1, 1);
    }

    public class Font : Object { }

    public class TextAsset : Object
    {
        public string text => "";
        public byte[] bytes => Array.Empty<byte>();
    }

    public static class Resources
    {
        public static T GetBuiltinResource<T>(string path) where T : Object => default!;
    }

    public static class Debug
    {
        public static void Log(object message) { }
        public static void LogWarning(object message, Object context) { }
        public static void LogError(object message) { }
    }

    public static class JsonUtility
    {
        public static T FromJson<T>(string json) => default!;
        public static string ToJson(object obj) => "";
    }

    public enum TextAnchor { UpperLeft, MiddleCenter, LowerLeft }
    public enum FontStyle { Normal, Bold, Italic }

    [AttributeUsage(AttributeTargets.Field)] public sealed class SerializeField : Attribute { }
    [AttributeUsage(AttributeTargets.Field)] public sealed class TooltipAttribute : Attribute { public TooltipAttribute(string tooltip) { } }
    [AttributeUsage(AttributeTargets.Field)] public sealed class HeaderAttribute : Attribute { public HeaderAttribute(string header) { } }
    [AttributeUsage(AttributeTargets.Field)] public sealed class TextAreaAttribute : Attribute { }
    [AttributeUsage(AttributeTargets.Class)] public sealed class AddComponentMenu : Attribute { public AddComponentMenu(string menuName) { } }
    [AttributeUsage(AttributeTargets.Class)] public sealed class RequireComponent : Attribute { public RequireComponent(Type type) { } }
}

namespace UnityEngine.Events
{
    public delegate void UnityAction();
    public delegate void UnityAction<T0>(T0 arg0);

    public class UnityEvent
    {
        public void AddListener(UnityAction call) { }
        public void Invoke() { }
    }

    public class UnityEvent<T0>
    {
        public void AddListener(UnityAction<T0> call) { }
        public void RemoveListener(UnityAction<T0> call) { }
        public void Invoke(T0 arg0) { }
    }
}
