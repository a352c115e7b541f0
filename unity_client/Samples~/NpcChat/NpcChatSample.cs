// NOT CI-COMPILED against Unity (CI type-checks it against a stub of the few
// UnityEngine types it uses, and parse-checks it with tree-sitter).
//
// The NPC Chat sample: Maren the innkeeper streams her lines into a chat box,
// the player types or clicks an option, and asking for a room makes her hand
// over a key through a tool call that this script carries out. The UI is built
// in code, so the scene only holds this component and NpcDialogue.
#nullable enable
using System;
using System.Collections.Generic;
using Npc.V1;
using NpcRuntime.Client;
using NpcRuntime.Unity;
using UnityEngine;
using UnityEngine.EventSystems;
using UnityEngine.UI;

namespace NpcRuntime.Samples
{
    [RequireComponent(typeof(NpcDialogue))]
    public sealed class NpcChatSample : MonoBehaviour
    {
        NpcDialogue _npc = null!;
        Font _font = null!;
        Text _title = null!, _log = null!, _line = null!, _inventoryText = null!, _status = null!;
        InputField _input = null!;
        RectTransform _options = null!;
        readonly List<string> _history = new List<string>();
        readonly List<string> _inventory = new List<string>();

        /// <summary>give_item's arguments, e.g. {"item": "room_key", "count": 1}.</summary>
        [Serializable]
        sealed class GiveItemArgs
        {
            public string item = "";
            public int count = 1;
        }

        void Awake()
        {
            _npc = GetComponent<NpcDialogue>();
            BuildUi();
            _npc.TokenReceived += text => _line.text += text;
            _npc.LineReplaced += text => _line.text = text;
            _npc.LineCompleted += done =>
            {
                _line.text = done.Text;
                Log($"{_npc.NpcName}: {done.Text}");
            };
            _npc.ToolCallRequested += OnToolCall;
            _npc.OptionsChanged += ShowOptions;
            _npc.QuestChanged += changes => Log("Quest: " + string.Join(", ", changes));
            // Message says what to do: Unauthenticated (set the Access Token), PermissionDenied
            // (the token's role), ResourceExhausted (retry in RetryAfter), Unavailable (server, URL, CA).
            _npc.Failed += error => _status.text = error.Message;
        }

        async void Start()
        {
            // Opening early shows the NPC's name and the player's options before the first line.
            await _npc.OpenAsync();
            if (_npc.SessionId.Length == 0)
                return; // Failed has shown why (is the server running?)
            _title.text = _npc.NpcName;
            // The game starts the quest when the player walks in: the room key moves it on.
            try
            {
                var state = await _npc.GetQuestStateAsync();
                if (!state.Stages.ContainsKey("noises_below"))
                {
                    state.Stages["noises_below"] = "asked";
                    await _npc.SetQuestStateAsync(state);
                    Log("Quest started: noises_below (asked)");
                }
            }
            catch (GrpcStatusException e) when (e.Code == StatusCode.PermissionDenied)
            {
                // A server with --auth-tokens lets only admin tokens set quest state: there the
                // game's backend starts quests, not the player's client.
                _status.text = "Quest not started: this token may not set quest state (needs role admin).";
            }
            catch (Exception e)
            {
                _status.text = e.Message;
            }
        }

        void Send(string text, string toolChoice = "")
        {
            if (text.Trim().Length == 0 || _npc.IsSpeaking)
                return;
            _title.text = _npc.NpcName;
            _status.text = "";
            _line.text = "";
            _input.text = "";
            Log("You: " + text);
            _ = _npc.SayAsync(text, toolChoice);
        }

        /// <summary>The game's side of a tool call: do it, then tell the server what happened.</summary>
        void OnToolCall(ToolCall call)
        {
            if (call.Tool != "give_item")
            {
                _npc.SubmitToolResult(call.CallId, "", "this game cannot do " + call.Tool);
                return;
            }
            var args = JsonUtility.FromJson<GiveItemArgs>(call.ArgumentsJson);
            for (var i = 0; i < Math.Max(1, args.count); i++)
                _inventory.Add(args.item);
            _inventoryText.text = "Inventory: " + string.Join(", ", _inventory);
            _npc.SubmitToolResult(call.CallId, "{\"given\": true}");
        }

        void ShowOptions(IReadOnlyList<string> options)
        {
            for (var i = _options.childCount - 1; i >= 0; i--)
                Destroy(_options.GetChild(i).gameObject);
            for (var i = 0; i < options.Count; i++)
            {
                var option = options[i];
                var top = 1f - i * 0.5f;
                MakeButton(_options, "> " + option, new Vector2(0, top - 0.45f), new Vector2(1, top), () => Send(option));
            }
        }

        void Log(string entry)
        {
            _history.Add(entry);
            if (_history.Count > 12)
                _history.RemoveAt(0);
            _log.text = string.Join("\n", _history);
        }

        // ---- UI, built in code -------------------------------------------------

        void BuildUi()
        {
            _font = Resources.GetBuiltinResource<Font>("LegacyRuntime.ttf");
            if (FindObjectOfType<EventSystem>() == null)
                new GameObject("EventSystem", typeof(EventSystem), typeof(StandaloneInputModule));

            var canvasObject = new GameObject("NPC Chat UI", typeof(Canvas), typeof(CanvasScaler), typeof(GraphicRaycaster));
            canvasObject.GetComponent<Canvas>().renderMode = RenderMode.ScreenSpaceOverlay;
            var scaler = canvasObject.GetComponent<CanvasScaler>();
            scaler.uiScaleMode = CanvasScaler.ScaleMode.ScaleWithScreenSize;
            scaler.referenceResolution = new Vector2(1280, 720);
            var root = (RectTransform)canvasObject.transform;

            _title = MakeText(root, new Vector2(0.05f, 0.92f), new Vector2(0.95f, 0.98f), 28, FontStyle.Bold);
            _log = MakeText(root, new Vector2(0.05f, 0.48f), new Vector2(0.95f, 0.91f), 20, FontStyle.Normal);
            _log.alignment = TextAnchor.LowerLeft;
            _line = MakeText(root, new Vector2(0.05f, 0.34f), new Vector2(0.95f, 0.47f), 24, FontStyle.Italic);
            _options = MakePanel(root, new Vector2(0.05f, 0.2f), new Vector2(0.95f, 0.33f));
            _input = MakeInput(root, new Vector2(0.05f, 0.1f), new Vector2(0.72f, 0.18f));
            MakeButton(root, "Say", new Vector2(0.74f, 0.1f), new Vector2(0.95f, 0.18f), () => Send(_input.text));
            // The game knows the player clicked "Rent a room": force the tool call.
            MakeButton(root, "Ask for a room key", new Vector2(0.05f, 0.02f), new Vector2(0.35f, 0.08f),
                () => Send("Can I have a room key for the night?", "give_item"));
            _inventoryText = MakeText(root, new Vector2(0.37f, 0.02f), new Vector2(0.95f, 0.08f), 20, FontStyle.Normal);
            _inventoryText.text = "Inventory: (empty)";
            _status = MakeText(root, new Vector2(0.05f, 0.185f), new Vector2(0.95f, 0.2f), 14, FontStyle.Normal);
        }

        static RectTransform MakePanel(Transform parent, Vector2 anchorMin, Vector2 anchorMax)
        {
            var rect = new GameObject("Panel", typeof(RectTransform)).GetComponent<RectTransform>();
            rect.SetParent(parent, false);
            rect.anchorMin = anchorMin;
            rect.anchorMax = anchorMax;
            rect.offsetMin = Vector2.zero;
            rect.offsetMax = Vector2.zero;
            return rect;
        }

        Text MakeText(Transform parent, Vector2 anchorMin, Vector2 anchorMax, int size, FontStyle style)
        {
            var text = MakePanel(parent, anchorMin, anchorMax).gameObject.AddComponent<Text>();
            text.font = _font;
            text.fontSize = size;
            text.fontStyle = style;
            text.color = Color.white;
            text.alignment = TextAnchor.UpperLeft;
            return text;
        }

        Button MakeButton(Transform parent, string label, Vector2 anchorMin, Vector2 anchorMax, Action onClick)
        {
            var panel = MakePanel(parent, anchorMin, anchorMax);
            panel.gameObject.AddComponent<Image>().color = new Color(0.2f, 0.25f, 0.35f);
            var button = panel.gameObject.AddComponent<Button>();
            button.onClick.AddListener(() => onClick());
            var text = MakeText(panel, Vector2.zero, Vector2.one, 20, FontStyle.Normal);
            text.text = label;
            text.alignment = TextAnchor.MiddleCenter;
            return button;
        }

        InputField MakeInput(Transform parent, Vector2 anchorMin, Vector2 anchorMax)
        {
            var panel = MakePanel(parent, anchorMin, anchorMax);
            panel.gameObject.AddComponent<Image>().color = new Color(0.1f, 0.1f, 0.12f);
            var input = panel.gameObject.AddComponent<InputField>();
            input.textComponent = MakeText(panel, Vector2.zero, Vector2.one, 20, FontStyle.Normal);
            var placeholder = MakeText(panel, Vector2.zero, Vector2.one, 20, FontStyle.Italic);
            placeholder.text = "Say something to the NPC...";
            input.placeholder = placeholder;
            return input;
        }
    }
}
