// NOT CI-COMPILED against Unity (CI type-checks it against a stub of the few
// UnityEngine types it uses, and parse-checks it with tree-sitter).
//
// The NPC Chat sample's screen: it draws what ChatGame holds and forwards clicks to it.
// The game itself (rules, quest, the turn's flow, errors and retries) is ChatGame.cs,
// ChatRules.cs and ChatText.cs, plain C# that CI plays on .NET against a live server.
// The connection (Server Url, Npc Id, Player Id, Access Token, Ca Certificate) is set on
// the NPC Dialogue component beside this one; the UI is built in code, so the scene only
// holds the two components.
#nullable enable
using System;
using System.Collections.Generic;
using System.Linq;
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
        [Tooltip("For a server with --auth-tokens: an admin token, to start the quest (SetQuestState). " +
                 "Development only: a game starts quests from its backend and ships no admin token. " +
                 "Empty: NPC Dialogue's Access Token.")]
        [SerializeField] string adminToken = "";

        ChatGame _game = null!;
        NpcClient? _admin;
        Font _font = null!;
        Text _title = null!, _stage = null!, _objective = null!, _log = null!, _status = null!, _toolCall = null!;
        Text _inventory = null!, _modeHelp = null!, _problem = null!, _debug = null!, _holdLabel = null!;
        InputField _input = null!;
        RectTransform _options = null!, _problemPanel = null!;
        Button _say = null!, _askForRoom = null!, _buyStew = null!, _retry = null!;
        string[] _shownOptions = Array.Empty<string>();

        void Start()
        {
            var npc = GetComponent<NpcDialogue>();
            var settings = new ChatSettings
            {
                ServerUrl = npc.ServerUrl, NpcId = npc.NpcId, PlayerName = npc.PlayerName,
                PlayerId = npc.PlayerId, AffinityKey = npc.AffinityKey,
            };
            BuildUi();
            try
            {
                if (adminToken.Trim().Length > 0)
                    _admin = NpcClient.ForGrpcWeb(new Uri(npc.ServerUrl),
                        new NpcClientOptions { AccessToken = adminToken, CaCertificatePem = npc.CaCertificatePem });
                _game = new ChatGame(npc.Client, settings, _admin);
            }
            catch (Exception e) when (e is ArgumentException || e is UriFormatException || e is InvalidOperationException)
            {
                // A malformed URL, token or CA: nothing can be called; say which setting to fix.
                _title.text = npc.NpcId + ": not connected";
                _problem.text = ChatText.DescribeProblem(e, npc.ServerUrl);
                _retry.interactable = false;
                return;
            }
            _game.Changed += Redraw;
            Redraw();
            _ = _game.StartAsync();
        }

        void Update()
        {
            if (_game != null && _game.RetryAt.HasValue) // the busy server's countdown
                _problem.text = _game.ProblemWithCountdown(DateTime.UtcNow);
        }

        void OnDestroy()
        {
            _game?.Dispose();
            _admin?.Dispose();
        }

        void Send(string text, string toolChoice = "", string item = "")
        {
            _input.text = "";
            _ = _game.SayAsync(text, toolChoice, item);
        }

        void Redraw()
        {
            _title.text = _game.Title;
            _stage.text = _game.StageText;
            _objective.text = _game.ObjectiveText;
            _log.text = _game.LogText;
            _status.text = _game.StatusText;
            _toolCall.text = _game.ToolCallText;
            _inventory.text = _game.InventoryText;
            _modeHelp.text = _game.ModeHelp;
            _holdLabel.text = _game.HoldUntilChecked ? "Hold until checked: ON" : "Hold until checked: off";
            _debug.text = _game.DebugText;
            _problem.text = _game.ProblemWithCountdown(DateTime.UtcNow);
            _problemPanel.gameObject.SetActive(_game.ProblemText.Length > 0);
            _retry.interactable = _game.CanRetry;
            foreach (var control in new Selectable[] { _input, _say, _askForRoom, _buyStew })
                control.interactable = _game.CanType;
            if (!_game.Options.SequenceEqual(_shownOptions))
                ShowOptions(_game.Options.ToArray());
        }

        void ShowOptions(string[] options)
        {
            _shownOptions = options;
            for (var i = _options.childCount - 1; i >= 0; i--)
                Destroy(_options.GetChild(i).gameObject);
            for (var i = 0; i < options.Length; i++)
            {
                var option = options[i];
                var left = i * 0.5f;
                MakeButton(_options, "> " + option, new Vector2(left, 0), new Vector2(left + 0.49f, 1), () => Send(option));
            }
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

            // The HUD: who, and where the quest stands.
            _title = MakeText(root, new Vector2(0.02f, 0.93f), new Vector2(0.58f, 0.99f), 28, FontStyle.Bold);
            _stage = MakeText(root, new Vector2(0.60f, 0.95f), new Vector2(0.98f, 0.99f), 18, FontStyle.Bold);
            _objective = MakeText(root, new Vector2(0.60f, 0.90f), new Vector2(0.98f, 0.95f), 16, FontStyle.Italic);
            // The conversation, and the writers' debug panel beside it (collapsed).
            _log = MakeText(root, new Vector2(0.02f, 0.40f), new Vector2(0.58f, 0.92f), 18, FontStyle.Normal);
            _log.alignment = TextAnchor.LowerLeft;
            var debugToggle = MakeButton(root, "Plan / trace (writers)", new Vector2(0.60f, 0.84f), new Vector2(0.98f, 0.89f), () => { });
            _debug = MakeText(root, new Vector2(0.60f, 0.40f), new Vector2(0.98f, 0.83f), 13, FontStyle.Normal);
            _debug.gameObject.SetActive(false);
            var debugShown = false;
            debugToggle.onClick.AddListener(() => _debug.gameObject.SetActive(debugShown = !debugShown));
            // What the NPC did this turn, and what the player may say to move the quest on.
            _toolCall = MakeText(root, new Vector2(0.02f, 0.35f), new Vector2(0.98f, 0.40f), 16, FontStyle.Normal);
            _options = MakePanel(root, new Vector2(0.02f, 0.28f), new Vector2(0.98f, 0.34f));
            // What went wrong, what to do, and Retry.
            _problemPanel = MakePanel(root, new Vector2(0.02f, 0.19f), new Vector2(0.98f, 0.275f));
            _problemPanel.gameObject.AddComponent<Image>().color = new Color(0.35f, 0.12f, 0.12f);
            _problem = MakeText(_problemPanel, new Vector2(0.01f, 0f), new Vector2(0.85f, 1f), 14, FontStyle.Normal);
            _retry = MakeButton(_problemPanel, "Retry", new Vector2(0.86f, 0.15f), new Vector2(0.99f, 0.85f), () => _ = _game?.RetryAsync());
            _status = MakeText(root, new Vector2(0.02f, 0.165f), new Vector2(0.72f, 0.19f), 14, FontStyle.Italic);
            // The player's side.
            _input = MakeInput(root, new Vector2(0.02f, 0.09f), new Vector2(0.60f, 0.16f));
            _say = MakeButton(root, "Say", new Vector2(0.61f, 0.09f), new Vector2(0.72f, 0.16f), () => Send(_input.text));
            // The game knows the player clicked "Rent a room" / "Buy stew": force the tool call.
            _askForRoom = MakeButton(root, "Ask for a room key", new Vector2(0.02f, 0.01f), new Vector2(0.24f, 0.08f),
                () => Send(ChatGame.RoomRequest, "give_item", "room_key"));
            _buyStew = MakeButton(root, "Ask for eel stew", new Vector2(0.25f, 0.01f), new Vector2(0.47f, 0.08f),
                () => Send(ChatGame.StewRequest, "give_item", "eel_stew"));
            MakeButton(root, "", new Vector2(0.48f, 0.01f), new Vector2(0.72f, 0.08f),
                () => _game.HoldUntilChecked = !_game.HoldUntilChecked, out _holdLabel);
            _inventory = MakeText(root, new Vector2(0.74f, 0.09f), new Vector2(0.98f, 0.16f), 16, FontStyle.Normal);
            _modeHelp = MakeText(root, new Vector2(0.74f, 0.0f), new Vector2(0.98f, 0.085f), 11, FontStyle.Italic);
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

        Button MakeButton(Transform parent, string label, Vector2 anchorMin, Vector2 anchorMax, Action onClick) =>
            MakeButton(parent, label, anchorMin, anchorMax, onClick, out _);

        Button MakeButton(Transform parent, string label, Vector2 anchorMin, Vector2 anchorMax, Action onClick, out Text text)
        {
            var panel = MakePanel(parent, anchorMin, anchorMax);
            panel.gameObject.AddComponent<Image>().color = new Color(0.2f, 0.25f, 0.35f);
            var button = panel.gameObject.AddComponent<Button>();
            button.onClick.AddListener(() => onClick());
            text = MakeText(panel, Vector2.zero, Vector2.one, 18, FontStyle.Normal);
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
