// Stand-ins for the UnityEngine.UI / EventSystems types the sample uses (see
// UnityEngineStubs.cs for what this compile proves and what it does not).
#pragma warning disable CS1591
using UnityEngine.Events;

namespace UnityEngine
{
    public enum RenderMode { ScreenSpaceOverlay, ScreenSpaceCamera, WorldSpace }

    public sealed class Canvas : Behaviour
    {
        public RenderMode renderMode { get; set; }
    }
}

namespace UnityEngine.EventSystems
{
    public class UIBehaviour : MonoBehaviour { }
    public class EventSystem : UIBehaviour { }
    public class StandaloneInputModule : UIBehaviour { }
}

namespace UnityEngine.UI
{
    public class CanvasScaler : EventSystems.UIBehaviour
    {
        public enum ScaleMode { ConstantPixelSize, ScaleWithScreenSize, ConstantPhysicalSize }
        public ScaleMode uiScaleMode { get; set; }
        public Vector2 referenceResolution { get; set; }
    }

    public class GraphicRaycaster : EventSystems.UIBehaviour { }

    public abstract class Graphic : EventSystems.UIBehaviour
    {
        public Color color { get; set; }
    }

    public abstract class MaskableGraphic : Graphic { }

    public class Image : MaskableGraphic { }

    public class Text : MaskableGraphic
    {
        public string text { get; set; } = "";
        public Font font { get; set; } = null!;
        public int fontSize { get; set; }
        public FontStyle fontStyle { get; set; }
        public TextAnchor alignment { get; set; }
    }

    public class Selectable : EventSystems.UIBehaviour
    {
        public bool interactable { get; set; } = true;
    }

    public class Button : Selectable
    {
        public class ButtonClickedEvent : UnityEvent { }
        public ButtonClickedEvent onClick { get; } = new ButtonClickedEvent();
    }

    public class InputField : Selectable
    {
        public string text { get; set; } = "";
        public Text textComponent { get; set; } = null!;
        public Graphic placeholder { get; set; } = null!;
    }
}
