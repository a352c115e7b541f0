using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Npc.V1;

namespace NpcRuntime.Client
{
    /// <summary>
    /// The npc-runtime API for games, engine-independent: open a conversation with
    /// an NPC, stream its replies, answer its tool calls, read and set quest state.
    /// Thread-safe; one client per server is enough.
    /// <para>
    /// Every call of a conversation, from OpenSession on, carries the conversation's
    /// affinity key as the metadata <c>x-npc-session</c>, the key a load balancer
    /// routes the conversation by (README, "Deploying"): the player id by default, a
    /// random key kept for the conversation's life when there is none, or the game's
    /// own (<c>affinityKey</c> of <see cref="OpenSessionAsync"/>). Quest calls carry the
    /// player's key. Sessions this client did not open travel without one.
    /// </para>
    /// </summary>
    /// <example>
    /// <code>
    /// using var client = NpcClient.ForGrpcWeb(new Uri("http://127.0.0.1:8080/"));
    /// // or, with `serve --auth-tokens ... --tls-cert ...`:
    /// // NpcClient.ForGrpcWeb(new Uri("https://localhost:8080/"), new NpcClientOptions { AccessToken = token, CaCertificatePem = pem });
    /// var session = await client.OpenSessionAsync("maren");
    /// await foreach (var e in client.SayAsync(session.SessionId, "A room, please."))
    ///     if (e.EventCase == SayResponse.EventOneofCase.Token) Console.Write(e.Token.Text);
    /// </code>
    /// </example>
    public sealed class NpcClient : IDisposable
    {
        const string Dialogue = "npc.v1.DialogueService";
        const string Quest = "npc.v1.QuestService";

        static readonly RpcMethod<OpenSessionRequest, OpenSessionResponse> OpenSessionMethod =
            new RpcMethod<OpenSessionRequest, OpenSessionResponse>(Dialogue, "OpenSession", OpenSessionResponse.Parser);
        static readonly RpcMethod<SayRequest, SayResponse> SayMethod =
            new RpcMethod<SayRequest, SayResponse>(Dialogue, "Say", SayResponse.Parser);
        static readonly RpcMethod<SubmitToolResultRequest, SubmitToolResultResponse> SubmitToolResultMethod =
            new RpcMethod<SubmitToolResultRequest, SubmitToolResultResponse>(Dialogue, "SubmitToolResult", SubmitToolResultResponse.Parser);
        static readonly RpcMethod<CloseSessionRequest, CloseSessionResponse> CloseSessionMethod =
            new RpcMethod<CloseSessionRequest, CloseSessionResponse>(Dialogue, "CloseSession", CloseSessionResponse.Parser);
        static readonly RpcMethod<GetQuestStateRequest, GetQuestStateResponse> GetQuestStateMethod =
            new RpcMethod<GetQuestStateRequest, GetQuestStateResponse>(Quest, "GetQuestState", GetQuestStateResponse.Parser);
        static readonly RpcMethod<SetQuestStateRequest, SetQuestStateResponse> SetQuestStateMethod =
            new RpcMethod<SetQuestStateRequest, SetQuestStateResponse>(Quest, "SetQuestState", SetQuestStateResponse.Parser);

        /// <summary>The metadata that carries a conversation's affinity key.</summary>
        public const string AffinityHeader = "x-npc-session";

        readonly ITransport _transport;
        // Session id, and the player id its quest calls use, -> the conversation's key.
        readonly ConcurrentDictionary<string, string> _affinity = new ConcurrentDictionary<string, string>();

        public NpcClient(ITransport transport) => _transport = transport;

        /// <summary>A client for the server's gRPC-Web port (`npc-runtime serve --web-port`).</summary>
        public static NpcClient ForGrpcWeb(Uri baseAddress) => new NpcClient(new GrpcWebTransport(baseAddress));

        /// <summary>
        /// A client for a server with tokens and/or TLS on: the access token goes with
        /// every call; for https, the CA certificate (if given) is the one trusted.
        /// </summary>
        /// <exception cref="ArgumentException">A CA PEM with no certificate in it.</exception>
        public static NpcClient ForGrpcWeb(Uri baseAddress, NpcClientOptions options) =>
            new NpcClient(new GrpcWebTransport(baseAddress, options));

        /// <summary>Starts a conversation. NotFound when the world has no such NPC.</summary>
        /// <param name="playerId">Whose quest state the conversation reads and advances (e.g. the save id).</param>
        /// <param name="affinityKey">
        /// The key the conversation's calls carry as x-npc-session. Null or "": the player
        /// id, or, without one, a random key kept until <see cref="CloseSessionAsync"/>.
        /// Characters a header cannot carry (non-ASCII, spaces) are percent-encoded.
        /// </param>
        public async Task<OpenSessionResponse> OpenSessionAsync(string npcId, string playerName = "", string playerId = "",
            string? affinityKey = null, CancellationToken cancellationToken = default)
        {
            var key = HeaderSafe(!string.IsNullOrEmpty(affinityKey) ? affinityKey!
                : playerId.Length > 0 ? playerId : Guid.NewGuid().ToString("N"));
            var opened = await _transport.UnaryAsync(OpenSessionMethod,
                new OpenSessionRequest { NpcId = npcId, PlayerName = playerName, PlayerId = playerId },
                Affinity(key), cancellationToken).ConfigureAwait(false);
            _affinity[opened.SessionId] = key;
            if (playerId.Length > 0)
                _affinity[playerId] = key;
            return opened;
        }

        /// <summary>
        /// The affinity key this client sends with the calls of <paramref name="sessionId"/>
        /// (x-npc-session); null for a session it did not open, or closed.
        /// </summary>
        public string? AffinityKeyOf(string sessionId) => _affinity.TryGetValue(sessionId, out var key) ? key : null;

        /// <summary>
        /// The player's line; yields the reply as it is made: token deltas, at most
        /// one `replaced`, `tool_call`s the game must answer with
        /// <see cref="SubmitToolResultAsync"/> while the stream waits, then exactly one
        /// `line_done`. Cancelling (or breaking out of the loop) stops generation.
        /// </summary>
        /// <param name="toolChoice">Empty: the NPC decides. "none": it only speaks. A tool id: it calls that tool.</param>
        public IAsyncEnumerable<SayResponse> SayAsync(string sessionId, string text, string toolChoice = "",
            CancellationToken cancellationToken = default) =>
            SayAsync(new SayRequest { SessionId = sessionId, Text = text, ToolChoice = toolChoice }, cancellationToken);

        /// <summary>As above, with every field of the request (generation options, reply mode).</summary>
        public IAsyncEnumerable<SayResponse> SayAsync(SayRequest request, CancellationToken cancellationToken = default) =>
            _transport.ServerStreamingAsync(SayMethod, request, SessionAffinity(request.SessionId), cancellationToken);

        /// <summary>
        /// Answers a tool call (executor ENGINE) of a running Say stream; the NPC's line
        /// then goes on. Pass <paramref name="error"/> when the game could not do it.
        /// NotFound when no such call is waiting (already answered or timed out).
        /// </summary>
        public async Task SubmitToolResultAsync(string sessionId, string callId, string resultJson, string error = "",
            CancellationToken cancellationToken = default) =>
            await _transport.UnaryAsync(SubmitToolResultMethod,
                new SubmitToolResultRequest { SessionId = sessionId, CallId = callId, ResultJson = resultJson, Error = error },
                SessionAffinity(sessionId), cancellationToken).ConfigureAwait(false);

        /// <summary>Forgets a conversation (and its affinity key). NotFound for an unknown session.</summary>
        public async Task CloseSessionAsync(string sessionId, CancellationToken cancellationToken = default)
        {
            try
            {
                await _transport.UnaryAsync(CloseSessionMethod, new CloseSessionRequest { SessionId = sessionId },
                    SessionAffinity(sessionId), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _affinity.TryRemove(sessionId, out _);
            }
        }

        /// <summary>The player's quest stages, revealed facts and items (empty when nothing started).</summary>
        public async Task<QuestState> GetQuestStateAsync(string playerId, CancellationToken cancellationToken = default) =>
            (await _transport.UnaryAsync(GetQuestStateMethod, new GetQuestStateRequest { PlayerId = playerId },
                PlayerAffinity(playerId), cancellationToken).ConfigureAwait(false)).State;

        /// <summary>
        /// Replaces the player's quest state. InvalidArgument for ids the world does not
        /// have; PermissionDenied with a client token (a server with --auth-tokens lets
        /// only admin tokens set quest state).
        /// </summary>
        public async Task<QuestState> SetQuestStateAsync(string playerId, QuestState state,
            CancellationToken cancellationToken = default) =>
            (await _transport.UnaryAsync(SetQuestStateMethod, new SetQuestStateRequest { PlayerId = playerId, State = state },
                PlayerAffinity(playerId), cancellationToken).ConfigureAwait(false)).State;

        public void Dispose() => _transport.Dispose();

        static IReadOnlyDictionary<string, string> Affinity(string key) =>
            new Dictionary<string, string> { [AffinityHeader] = key };

        IReadOnlyDictionary<string, string>? SessionAffinity(string sessionId) =>
            _affinity.TryGetValue(sessionId, out var key) ? Affinity(key) : null;

        /// <summary>A player's quest calls: the key of their conversation, or the player id itself.</summary>
        IReadOnlyDictionary<string, string>? PlayerAffinity(string playerId) =>
            _affinity.TryGetValue(playerId, out var key) ? Affinity(key)
            : playerId.Length > 0 ? Affinity(HeaderSafe(playerId)) : null;

        /// <summary>The key as is when a header can carry it (printable ASCII, no spaces); else percent-encoded (UTF-8).</summary>
        static string HeaderSafe(string key) =>
            key.All(c => c > ' ' && c <= '~') ? key : Uri.EscapeDataString(key);
    }
}
