// NOT CI-COMPILED (needs UnityEngine): CI parse-checks it with tree-sitter-c-sharp.
// Keep logic out of here; it belongs in the engine-independent core, which CI
// compiles and tests end to end.
#nullable enable
using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Npc.V1;
using NpcRuntime.Client;
using UnityEngine;
using UnityEngine.Events;

namespace NpcRuntime.Unity
{
    /// <summary>
    /// One conversation with one NPC of an npc-runtime server. Call <see cref="Say"/>
    /// from your UI and listen to the events; every event is raised on Unity's main
    /// thread. When the NPC acts (a tool call such as give_item), do it in the game
    /// and answer with <see cref="SubmitToolResult"/>: the NPC's line goes on after.
    /// Disabling the component cancels the running reply and closes the session.
    /// For a server with tokens and TLS, set the access token (field, or
    /// <see cref="SetAccessToken"/> at run time) and, for a self-signed or private
    /// CA, the CA certificate; errors then say which one is missing or wrong. The
    /// token is never logged.
    /// </summary>
    [AddComponentMenu("NPC Runtime/NPC Dialogue")]
    public sealed class NpcDialogue : MonoBehaviour
    {
        [Serializable] public sealed class TextEvent : UnityEvent<string> { }
        [Serializable] public sealed class ListEvent : UnityEvent<string[]> { }
        [Serializable] public sealed class ToolCallEvent : UnityEvent<ToolCall> { }

        [Tooltip("The server's gRPC-Web address (npc-runtime serve --web-port 8080).")]
        [SerializeField] string serverUrl = "http://127.0.0.1:8080/";
        [Tooltip("The NPC's id in the world's YAML.")]
        [SerializeField] string npcId = "maren";
        [Tooltip("How the NPC addresses the player; empty: \"traveller\".")]
        [SerializeField] string playerName = "";
        [Tooltip("Whose quest state this conversation reads and advances (e.g. your save id); empty: the session's own.")]
        [SerializeField] string playerId = "";
        [Tooltip("The conversation's affinity key (x-npc-session), which a load balancer routes its calls by. " +
                 "Empty: the Player Id, or a random key per conversation when that is empty too.")]
        [SerializeField] string affinityKey = "";

        [Tooltip("Send the line only once the whole of it has passed the lore check, as one token " +
                 "(ReplyMode.Hold), instead of streaming it sentence by sentence.")]
        [SerializeField] bool holdUntilChecked = false;

        [Header("Server with --auth-tokens / --tls-cert")]
        [Tooltip("A token of the server's --auth-tokens file (role client), sent as \"authorization: Bearer ...\". " +
                 "Empty: none. A serialized token ships with your build: for a release, leave this empty and call " +
                 "SetAccessToken at run time.")]
        [SerializeField] string accessToken = "";
        [Tooltip("For https with a self-signed or private CA: that CA's certificate (or the server's --tls-cert) " +
                 "as PEM, imported as a TextAsset (rename cert.pem to cert.pem.txt). Empty: the device's trusted roots.")]
        [SerializeField] TextAsset? caCertificate = null;

        [Header("Events (main thread)")]
        [Tooltip("A piece of the NPC's line: append it to what is shown.")]
        public TextEvent onToken = new TextEvent();
        [Tooltip("The line checker changed the line: show this instead of what streamed.")]
        public TextEvent onLineReplaced = new TextEvent();
        [Tooltip("The finished line, as said.")]
        public TextEvent onLine = new TextEvent();
        [Tooltip("The NPC asks the game to act; answer with SubmitToolResult.")]
        public ToolCallEvent onToolCall = new ToolCallEvent();
        [Tooltip("What the player may say now to move a quest on (show as buttons).")]
        public ListEvent onOptions = new ListEvent();
        [Tooltip("Quest changes this turn caused, e.g. \"noises_below: asked -> trusted\".")]
        public ListEvent onQuestChanged = new ListEvent();
        [Tooltip("A call failed: the message, for logs or a retry prompt.")]
        public TextEvent onError = new TextEvent();

        /// <summary>A piece of the NPC's line.</summary>
        public event Action<string>? TokenReceived;
        /// <summary>Show this text instead of everything streamed for this line.</summary>
        public event Action<string>? LineReplaced;
        /// <summary>The line is finished: text, timings, check report, tool calls, options.</summary>
        public event Action<LineDone>? LineCompleted;
        /// <summary>An ENGINE tool call; answer it with <see cref="SubmitToolResult"/>. (SERVER ones are reported in LineDone.ToolCalls.)</summary>
        public event Action<ToolCall>? ToolCallRequested;
        /// <summary>The player's options changed (on opening and after each line).</summary>
        public event Action<IReadOnlyList<string>>? OptionsChanged;
        /// <summary>Quest changes of a turn: LineDone.QuestChanges (tool calls' changes included).</summary>
        public event Action<IReadOnlyList<string>>? QuestChanged;
        /// <summary>A call failed; a <see cref="GrpcStatusException"/> carries the server's code and message.</summary>
        public event Action<Exception>? Failed;

        public string SessionId { get; private set; } = "";
        public string NpcName { get; private set; } = "";
        public IReadOnlyList<string> Options { get; private set; } = Array.Empty<string>();
        public bool IsSpeaking { get; private set; }

        NpcClient? _client;
        CancellationTokenSource? _lifetime;
        Task? _opening;
        SynchronizationContext? _mainThread;
        string? _caCertificatePem;

        void Awake() => _mainThread = SynchronizationContext.Current;

        // The client is made at the first call, from the fields as they are then.
        void OnEnable() => _lifetime = new CancellationTokenSource();

        void OnDisable() => Disconnect();

        /// <summary>
        /// Sets the access token (e.g. from your login flow); null or "" for none. A
        /// session belongs to the token that opened it, so a running reply is
        /// cancelled and the next call opens a new session with this token.
        /// ArgumentException for a malformed token (the message does not contain it).
        /// </summary>
        public void SetAccessToken(string? token)
        {
            accessToken = new NpcClientOptions { AccessToken = token }.AccessToken ?? "";
            Reconnect();
        }

        /// <summary>Whether an access token is set (the token itself cannot be read back).</summary>
        public bool HasAccessToken => accessToken.Trim().Length > 0;

        /// <summary>
        /// PEM of the CA to trust for https, overriding the Ca Certificate field (e.g.
        /// read from StreamingAssets); null: the field's. Takes effect as
        /// <see cref="SetAccessToken"/> does.
        /// </summary>
        public string? CaCertificatePem
        {
            get => _caCertificatePem ?? (caCertificate != null ? caCertificate.text : null);
            set
            {
                _caCertificatePem = value;
                Reconnect();
            }
        }

        /// <summary>The server's gRPC-Web address (the Server Url field).</summary>
        public string ServerUrl => serverUrl;
        /// <summary>The NPC's id in the world (the Npc Id field).</summary>
        public string NpcId => npcId;
        /// <summary>How the NPC addresses the player (the Player Name field).</summary>
        public string PlayerName => playerName;
        /// <summary>Whose quest state the conversation reads and advances (the Player Id field); "" for the session's own.</summary>
        public string PlayerId => playerId;
        /// <summary>The game's affinity key (the Affinity Key field); "" for the default (Player Id, else random).</summary>
        public string AffinityKey => affinityKey;
        /// <summary>
        /// Hold until checked (ReplyMode.Hold): nothing of a line arrives until all of it has
        /// passed the lore check, then it comes as one token and is never replaced. Off:
        /// streamed, and a trimmed line comes as LineReplaced. Takes effect at the next Say.
        /// </summary>
        public bool HoldUntilChecked
        {
            get => holdUntilChecked;
            set => holdUntilChecked = value;
        }

        /// <summary>The key the open conversation's calls carry as x-npc-session; null before it opens.</summary>
        public string? SessionAffinityKey => _client?.AffinityKeyOf(SessionId);

        /// <summary>
        /// The client built from the fields (server, token, CA), for calls this component
        /// does not wrap, or for game code that runs its own conversation flow (the NPC
        /// Chat sample). Made at first use; disposed when the component is disabled or the
        /// token or CA changes (<see cref="SetAccessToken"/>), so read it again after those.
        /// Throws InvalidOperationException while the component is disabled, and
        /// ArgumentException for a malformed token or CA.
        /// </summary>
        public NpcClient Client
        {
            get
            {
                if (_lifetime == null)
                    throw new InvalidOperationException("NpcDialogue is disabled");
                if (_client == null)
                {
                    // ArgumentException for a malformed token or CA PEM: raised through Failed.
                    var options = new NpcClientOptions { AccessToken = accessToken, CaCertificatePem = CaCertificatePem };
                    var url = new Uri(serverUrl);
                    if (options.AccessToken != null && url.Scheme == Uri.UriSchemeHttp && !url.IsLoopback)
                        Debug.LogWarning($"[NpcDialogue {npcId}] the access token goes unencrypted over http:// to " +
                                         $"{url.Host}; serve the gRPC-Web port with --tls-cert and use https://", this);
                    _client = NpcClient.ForGrpcWeb(url, options);
                }
                return _client;
            }
        }

        /// <summary>While enabled: ends the connection (and session) so the next call uses the new settings.</summary>
        void Reconnect()
        {
            if (_lifetime == null)
                return;
            Disconnect();
            _lifetime = new CancellationTokenSource();
        }

        void Disconnect()
        {
            // Cancelling ends the running Say stream; the server stops generating.
            _lifetime?.Cancel();
            _lifetime?.Dispose();
            _lifetime = null;
            var client = _client;
            var session = SessionId;
            _client = null;
            _opening = null;
            SessionId = "";
            IsSpeaking = false;
            if (client != null)
                _ = CloseQuietlyAsync(client, session);
        }

        /// <summary>Opens the session now (the first Say does it otherwise), e.g. to show the options early.</summary>
        public void Open() => _ = OpenAsync();

        /// <summary>As <see cref="Open"/>; completes when open (SessionId set) or failed (Failed raised).</summary>
        public Task OpenAsync() => GuardAsync(token => EnsureOpenAsync(token));

        /// <summary>
        /// The id whose quest state this conversation reads and advances: the
        /// Player Id field, or the session's own id when that is empty.
        /// </summary>
        public string QuestPlayerId => playerId.Length > 0 ? playerId : SessionId;

        /// <summary>The player's quest state. Throws GrpcStatusException; call after OpenAsync when Player Id is empty.</summary>
        public Task<QuestState> GetQuestStateAsync() =>
            Client.GetQuestStateAsync(QuestPlayerId, _lifetime!.Token);

        /// <summary>
        /// Replaces the player's quest state (a game that starts quests itself). Throws
        /// GrpcStatusException: PermissionDenied on a server with --auth-tokens unless
        /// the token has the admin role.
        /// </summary>
        public Task<QuestState> SetQuestStateAsync(QuestState state) =>
            Client.SetQuestStateAsync(QuestPlayerId, state, _lifetime!.Token);

        /// <summary>The player's line. For UI events: a Button or InputField can call it.</summary>
        public void Say(string text) => _ = SayAsync(text);

        /// <summary>The player's line; the reply comes through the events. Returns when the line is done.</summary>
        /// <param name="toolChoice">"": the NPC decides; "none": it only speaks; a tool id: it calls that tool (the player clicked "Buy").</param>
        public async Task SayAsync(string text, string toolChoice = "")
        {
            if (IsSpeaking)
            {
                Raise(new InvalidOperationException("the NPC is still speaking; wait for the line to finish"));
                return;
            }
            IsSpeaking = true;
            try
            {
                await GuardAsync(async token =>
                {
                    await EnsureOpenAsync(token);
                    var request = new SayRequest
                    {
                        SessionId = SessionId, Text = text, ToolChoice = toolChoice,
                        Mode = holdUntilChecked ? ReplyMode.Hold : ReplyMode.Stream,
                    };
                    await foreach (var e in Client.SayAsync(request, token))
                        Dispatch(e);
                });
            }
            finally
            {
                IsSpeaking = false;
            }
        }

        /// <summary>Answers a tool call: what the game did, as JSON; or why it could not (error).</summary>
        public void SubmitToolResult(string callId, string resultJson, string error = "") =>
            _ = GuardAsync(token => Client.SubmitToolResultAsync(SessionId, callId, resultJson, error, token));

        Task EnsureOpenAsync(CancellationToken token) => _opening ??= OpenAsync(token);

        async Task OpenAsync(CancellationToken token)
        {
            var opened = await Client.OpenSessionAsync(npcId, playerName, playerId, affinityKey, token);
            SessionId = opened.SessionId;
            NpcName = opened.NpcName;
            SetOptions(opened.Options);
        }

        void Dispatch(SayResponse e)
        {
            switch (e.EventCase)
            {
                case SayResponse.EventOneofCase.Token:
                    OnMain(() => { TokenReceived?.Invoke(e.Token.Text); onToken.Invoke(e.Token.Text); });
                    break;
                case SayResponse.EventOneofCase.Replaced:
                    OnMain(() => { LineReplaced?.Invoke(e.Replaced.Text); onLineReplaced.Invoke(e.Replaced.Text); });
                    break;
                case SayResponse.EventOneofCase.ToolCall when e.ToolCall.Executor == ToolExecutor.Engine:
                    OnMain(() => { ToolCallRequested?.Invoke(e.ToolCall); onToolCall.Invoke(e.ToolCall); });
                    break;
                case SayResponse.EventOneofCase.LineDone:
                    var done = e.LineDone;
                    OnMain(() => { LineCompleted?.Invoke(done); onLine.Invoke(done.Text); });
                    var changes = done.QuestChanges.ToArray();
                    if (changes.Length > 0)
                        OnMain(() => { QuestChanged?.Invoke(changes); onQuestChanged.Invoke(changes); });
                    SetOptions(done.Options);
                    break;
                // Events this version does not know are skipped, as the protocol asks.
            }
        }

        void SetOptions(IEnumerable<string> options)
        {
            var list = options.ToArray();
            if (list.SequenceEqual(Options))
                return;
            Options = list;
            OnMain(() => { OptionsChanged?.Invoke(list); onOptions.Invoke(list); });
        }

        /// <summary>
        /// Runs a call with the component's lifetime token: errors become the error
        /// events, cancellation by OnDisable is silent. A GrpcStatusException's Message
        /// says what to do for Unauthenticated (set the token), PermissionDenied (the
        /// token's role) and ResourceExhausted (retry after its RetryAfter).
        /// </summary>
        async Task GuardAsync(Func<CancellationToken, Task> call)
        {
            var lifetime = _lifetime;
            if (lifetime == null)
            {
                Raise(new InvalidOperationException("NpcDialogue is disabled"));
                return;
            }
            try
            {
                await call(lifetime.Token);
            }
            catch (OperationCanceledException) when (lifetime.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                // A failed open, or a session the server no longer knows: the next Say opens anew.
                if (SessionId.Length == 0 || (e is GrpcStatusException s && s.Code == StatusCode.NotFound))
                    _opening = null;
                Raise(e);
            }
        }

        void Raise(Exception e) => OnMain(() =>
        {
            Debug.LogWarning($"[NpcDialogue {npcId}] {e.Message}", this);
            Failed?.Invoke(e);
            onError.Invoke(e.Message);
        });

        /// <summary>
        /// Awaits started on the main thread resume there (UnitySynchronizationContext),
        /// so this is normally a direct call; from any other thread, post to the main one.
        /// </summary>
        void OnMain(Action action)
        {
            if (_mainThread == null || SynchronizationContext.Current == _mainThread)
                action();
            else
                _mainThread.Post(_ => action(), null);
        }

        static async Task CloseQuietlyAsync(NpcClient client, string session)
        {
            try
            {
                if (session.Length > 0)
                    await client.CloseSessionAsync(session);
            }
            catch (Exception)
            {
                // The server forgets idle sessions anyway; nothing to tell the game.
            }
            finally
            {
                client.Dispose();
            }
        }
    }
}
