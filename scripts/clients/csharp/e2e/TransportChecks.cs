// The gRPC-Web transport against canned responses: what a server, a proxy or a
// broken network may send, byte by byte. No server needed.
using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Google.Protobuf;
using Npc.V1;
using NpcRuntime.Client;

static class TransportChecks
{
    static readonly RpcMethod<SayRequest, SayResponse> Say =
        new RpcMethod<SayRequest, SayResponse>("npc.v1.DialogueService", "Say", SayResponse.Parser);

    public static IEnumerable<(string, Func<Task>)> All() => new (string, Func<Task>)[]
    {
        ("frames split into 1-byte reads decode", FramesSplitIntoSingleBytes),
        ("a message is handed out before the body ends", MessageBeforeBodyEnds),
        ("the request is one data frame with gRPC-Web headers", RequestShape),
        ("an error in the trailer frame after a message", ErrorInTrailerFrame),
        ("a trailers-only error in the HTTP headers", TrailersOnlyError),
        ("a trailers-only OK is an empty stream; unary needs one message", TrailersOnlyOk),
        ("a body cut inside a frame, or without trailers, is Internal", TruncatedBodies),
        ("HTTP errors and non-gRPC-Web replies map to status codes", HttpErrors),
        ("cancelling ends a stream that waits for bytes", CancelWhileWaiting),
        ("breaking out of the loop closes the response", BreakClosesResponse),
        ("no server listening is Unavailable", NoServer),
        ("the access token goes as authorization: Bearer on every call", TokenOnEveryCall),
        ("a malformed access token is refused without echoing it", MalformedToken),
        ("x-npc-session: every call of a conversation carries its affinity key", AffinityOnEveryCall),
        ("Unauthenticated, PermissionDenied, ResourceExhausted: distinct, with hints", AuthAndCapacityErrors),
        ("retry-after-ms in trailers-only headers and in the trailer frame", RetryAfter),
    };

    static byte[] Token(string text, uint index) =>
        GrpcWebFrames.Encode(new SayResponse { Token = new TokenDelta { Text = text, Index = index } });

    static byte[] Trailers(string text)
    {
        var payload = Encoding.ASCII.GetBytes(text);
        var frame = new byte[5 + payload.Length];
        frame[0] = 0x80;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame, 5);
        return frame;
    }

    static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    static (GrpcWebTransport, CannedHandler) Serve(Func<HttpResponseMessage> respond)
    {
        var handler = new CannedHandler(respond);
        return (new GrpcWebTransport(new Uri("http://npc.test/"), new HttpClient(handler)), handler);
    }

    static HttpResponseMessage GrpcWeb(Stream body)
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(body) };
        response.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc-web+proto");
        return response;
    }

    static async Task<List<SayResponse>> Collect(ITransport transport, CancellationToken cancellationToken = default)
    {
        var got = new List<SayResponse>();
        await foreach (var e in transport.ServerStreamingAsync(Say, new SayRequest { Text = "hi" }, cancellationToken: cancellationToken))
            got.Add(e);
        return got;
    }

    static async Task FramesSplitIntoSingleBytes()
    {
        var body = Concat(Token("Hel", 0), Token("lo", 1), Trailers("grpc-status: 0\r\n"));
        var (transport, _) = Serve(() => GrpcWeb(new ScriptedBody(body, maxRead: 1)));
        var got = await Collect(transport);
        Check.Equal("Hello", string.Concat(got.Select(e => e.Token.Text)), "text");
    }

    static async Task MessageBeforeBodyEnds()
    {
        var first = Token("Hel", 0);
        var body = new ScriptedBody(Concat(first, Token("lo", 1), Trailers("grpc-status: 0\r\n")),
            holdAfter: first.Length);
        var (transport, _) = Serve(() => GrpcWeb(body));
        await using var stream = transport.ServerStreamingAsync(Say, new SayRequest()).GetAsyncEnumerator();
        var next = stream.MoveNextAsync().AsTask();
        Check.That(await Task.WhenAny(next, Task.Delay(5000)) == next && next.Result,
            "the first message while the rest of the body is held back");
        Check.Equal("Hel", stream.Current.Token.Text, "first token");
        body.Release();
        Check.That(await stream.MoveNextAsync(), "a second message");
        Check.That(!await stream.MoveNextAsync(), "the end after the trailers");
    }

    static async Task RequestShape()
    {
        var (transport, handler) = Serve(() => GrpcWeb(new ScriptedBody(Trailers("grpc-status: 0\r\n"))));
        await Collect(transport);
        var request = handler.Request!;
        Check.Equal("http://npc.test/npc.v1.DialogueService/Say", request.RequestUri!.ToString(), "url");
        Check.Equal(HttpMethod.Post, request.Method, "method");
        Check.Equal("application/grpc-web+proto", request.Content!.Headers.ContentType!.MediaType, "content-type");
        Check.Equal("1", request.Headers.GetValues("X-Grpc-Web").Single(), "x-grpc-web");
        var sent = handler.Body!;
        Check.Equal(0, (int)sent[0], "data frame flag");
        Check.Equal(sent.Length - 5, (int)BinaryPrimitives.ReadUInt32BigEndian(sent.AsSpan(1)), "frame length");
        Check.Equal("hi", SayRequest.Parser.ParseFrom(sent, 5, sent.Length - 5).Text, "request text");
    }

    static async Task ErrorInTrailerFrame()
    {
        var body = Concat(Token("Hel", 0), Trailers("Grpc-Status: 5\r\ngrpc-message: no session %27x%27 %C3%A9t%C3%A9\r\n"));
        var (transport, _) = Serve(() => GrpcWeb(new ScriptedBody(body, maxRead: 3)));
        var got = new List<SayResponse>();
        var error = await Check.Throws<GrpcStatusException>(async () =>
        {
            await foreach (var e in transport.ServerStreamingAsync(Say, new SayRequest()))
                got.Add(e);
        });
        Check.Equal(1, got.Count, "messages before the error");
        Check.Equal(StatusCode.NotFound, error.Code, "code");
        Check.Equal("no session 'x' \u00e9t\u00e9", error.Detail, "percent-decoded UTF-8 detail");
    }

    static async Task TrailersOnlyError()
    {
        var (transport, _) = Serve(() =>
        {
            var response = GrpcWeb(new ScriptedBody(Array.Empty<byte>()));
            response.Headers.TryAddWithoutValidation("grpc-status", "3");
            response.Headers.TryAddWithoutValidation("grpc-message", "text%20must%20not%20be%20empty");
            return response;
        });
        var error = await Check.Throws<GrpcStatusException>(() => Collect(transport));
        Check.Equal(StatusCode.InvalidArgument, error.Code, "code");
        Check.Equal("text must not be empty", error.Detail, "detail");
    }

    static async Task TrailersOnlyOk()
    {
        var (transport, _) = Serve(() =>
        {
            var response = GrpcWeb(new ScriptedBody(Array.Empty<byte>()));
            response.Headers.TryAddWithoutValidation("grpc-status", "0");
            return response;
        });
        Check.Equal(0, (await Collect(transport)).Count, "messages");
        var error = await Check.Throws<GrpcStatusException>(() => transport.UnaryAsync(Say, new SayRequest()));
        Check.Equal(StatusCode.Internal, error.Code, "unary without a message");
    }

    static async Task TruncatedBodies()
    {
        var frame = Token("Hel", 0);
        foreach (var body in new[] { frame.Take(frame.Length - 1).ToArray(), frame.Take(3).ToArray(), frame })
        {
            var (transport, _) = Serve(() => GrpcWeb(new ScriptedBody(body)));
            var error = await Check.Throws<GrpcStatusException>(() => Collect(transport));
            Check.Equal(StatusCode.Internal, error.Code, $"code for a {body.Length}-byte body");
        }
    }

    static async Task HttpErrors()
    {
        var cases = new (HttpStatusCode, string, StatusCode)[]
        {
            (HttpStatusCode.NotFound, "text/plain", StatusCode.Unimplemented),
            (HttpStatusCode.ServiceUnavailable, "text/plain", StatusCode.Unavailable),
            (HttpStatusCode.Unauthorized, "text/plain", StatusCode.Unauthenticated),
            (HttpStatusCode.OK, "text/html", StatusCode.Unknown),
        };
        foreach (var (http, contentType, expected) in cases)
        {
            var (transport, _) = Serve(() =>
            {
                var response = new HttpResponseMessage(http) { Content = new ByteArrayContent(Encoding.ASCII.GetBytes("<html/>")) };
                response.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
                return response;
            });
            var error = await Check.Throws<GrpcStatusException>(() => Collect(transport));
            Check.Equal(expected, error.Code, $"code for HTTP {(int)http} {contentType}");
        }
    }

    static async Task CancelWhileWaiting()
    {
        var body = new ScriptedBody(Token("Hel", 0), holdAfter: 0);
        var (transport, _) = Serve(() => GrpcWeb(body));
        using var cancel = new CancellationTokenSource(200);
        var started = DateTime.UtcNow;
        await Check.Throws<OperationCanceledException>(() => Collect(transport, cancel.Token));
        Check.That(DateTime.UtcNow - started < TimeSpan.FromSeconds(3), "the call to end soon after cancelling");
    }

    static async Task BreakClosesResponse()
    {
        var first = Token("Hel", 0);
        var body = new ScriptedBody(Concat(first, Token("lo", 1)), holdAfter: first.Length);
        var (transport, _) = Serve(() => GrpcWeb(body));
        await foreach (var e in transport.ServerStreamingAsync(Say, new SayRequest()))
            break;
        // Closing the body is what tells the server the player is gone.
        Check.That(body.IsDisposed, "the response body disposed");
    }

    static async Task NoServer()
    {
        using var transport = new GrpcWebTransport(new Uri("http://127.0.0.1:9/"));
        var error = await Check.Throws<GrpcStatusException>(() => Collect(transport));
        Check.Equal(StatusCode.Unavailable, error.Code, "code");
    }

    static async Task TokenOnEveryCall()
    {
        const string token = "tok_0123456789abcdefXYZ-_.~";
        var handler = new CannedHandler(() => GrpcWeb(new ScriptedBody(Trailers("grpc-status: 0\r\n"))));
        using var transport = new GrpcWebTransport(new Uri("http://npc.test/"),
            new NpcClientOptions { AccessToken = " " + token + "\n" }, new HttpClient(handler));
        for (var call = 0; call < 2; call++)
        {
            await Collect(transport);
            Check.Equal("Bearer " + token, handler.Request!.Headers.GetValues("authorization").Single(), $"call {call + 1}");
        }
        var (plain, plainHandler) = Serve(() => GrpcWeb(new ScriptedBody(Trailers("grpc-status: 0\r\n"))));
        await Collect(plain);
        Check.That(!plainHandler.Request!.Headers.Contains("authorization"), "no authorization header without a token");
        Check.That(!new NpcClientOptions { AccessToken = token }.ToString().Contains(token), "ToString without the token");
    }

    /// <summary>
    /// NpcClient over canned responses: the player id by default, a random key kept until
    /// CloseSession without one, the game's own key, percent-encoding where a header needs it.
    /// </summary>
    static async Task AffinityOnEveryCall()
    {
        var sent = new List<(string Rpc, string? Key)>();
        CannedHandler? handler = null;
        handler = new CannedHandler(() =>
        {
            var request = handler!.Request!;
            var rpc = request.RequestUri!.AbsolutePath.Split('/').Last();
            sent.Add((rpc, request.Headers.TryGetValues(NpcClient.AffinityHeader, out var keys) ? keys.Single() : null));
            IMessage reply = rpc switch
            {
                "OpenSession" => new OpenSessionResponse { SessionId = "s-" + sent.Count, NpcName = "Maren" },
                "Say" => new SayResponse { LineDone = new LineDone { Text = "Evening." } },
                "GetQuestState" => new GetQuestStateResponse { State = new QuestState() },
                "SubmitToolResult" => new SubmitToolResultResponse(),
                _ => new CloseSessionResponse(),
            };
            var frame = new byte[5 + reply.CalculateSize()];
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)(frame.Length - 5));
            reply.ToByteArray().CopyTo(frame, 5);
            return GrpcWeb(new ScriptedBody(Concat(frame, Trailers("grpc-status: 0\r\n"))));
        });
        using var client = new NpcClient(new GrpcWebTransport(new Uri("http://npc.test/"), new HttpClient(handler)));

        async Task<string> Converse(string playerId, string? affinityKey = null)
        {
            sent.Clear();
            var session = (await client.OpenSessionAsync("maren", "", playerId, affinityKey)).SessionId;
            await foreach (var _ in client.SayAsync(session, "A room?"))
            {
            }
            await client.SubmitToolResultAsync(session, "call-1", "{}");
            await client.GetQuestStateAsync(playerId.Length > 0 ? playerId : session);
            var key = client.AffinityKeyOf(session);
            await client.CloseSessionAsync(session);
            Check.Equal(null, client.AffinityKeyOf(session), "the key forgotten after CloseSession");
            Check.Equal("OpenSession Say SubmitToolResult GetQuestState CloseSession",
                string.Join(" ", sent.Select(s => s.Rpc)), "the calls");
            Check.That(key != null && sent.All(s => s.Key == key), $"every call with {key}: {string.Join(", ", sent)}");
            return key!;
        }

        Check.Equal("save-17", await Converse("save-17"), "the player id by default");
        var first = await Converse("");
        Check.That(first.Length == 32 && first.All(Uri.IsHexDigit), "a random key without a player id: " + first);
        Check.That(await Converse("") != first, "another conversation, another random key");
        Check.Equal("guild-7", await Converse("save-17", "guild-7"), "the game's own key");
        Check.Equal("Zo%C3%AB%201", await Converse("Zoë 1"), "percent-encoded where a header needs it");
        sent.Clear();
        await client.GetQuestStateAsync("save-99");
        Check.Equal("save-99", sent.Single().Key, "quest calls outside a conversation: the player id");
    }

    static Task MalformedToken()
    {
        const string secret = "s3cr3t-s3cr3t-s3cr3t";
        foreach (var bad in new[] { "client " + secret, "Bearer " + secret, secret + "\r\nx-evil: 1", secret + "\u00e9" })
        {
            try
            {
                _ = new NpcClientOptions { AccessToken = bad };
                throw new Exception("expected ArgumentException for a malformed token");
            }
            catch (ArgumentException e)
            {
                Check.That(!e.Message.Contains(secret), "the message without the token: " + e.Message);
            }
        }
        Check.Equal<string?>(null, new NpcClientOptions { AccessToken = "  " }.AccessToken, "blank token");
        return Task.CompletedTask;
    }

    static async Task<GrpcStatusException> TrailersOnly(string status, string message, string? retryAfterMs = null)
    {
        var (transport, _) = Serve(() =>
        {
            var response = GrpcWeb(new ScriptedBody(Array.Empty<byte>()));
            response.Headers.TryAddWithoutValidation("grpc-status", status);
            response.Headers.TryAddWithoutValidation("grpc-message", message);
            if (retryAfterMs != null)
                response.Headers.TryAddWithoutValidation("retry-after-ms", retryAfterMs);
            return response;
        });
        return await Check.Throws<GrpcStatusException>(() => Collect(transport));
    }

    static async Task AuthAndCapacityErrors()
    {
        var unauthenticated = await TrailersOnly("16", "missing%20token");
        Check.Equal(StatusCode.Unauthenticated, unauthenticated.Code, "16");
        Check.Equal("missing token", unauthenticated.Detail, "detail");
        Check.That(unauthenticated.Hint.Contains("AccessToken") && unauthenticated.Message.Contains(unauthenticated.Hint),
            "a hint to set the token, in the message: " + unauthenticated.Message);
        Check.That(!unauthenticated.IsRetryable, "Unauthenticated not retryable");

        var denied = await TrailersOnly("7", "role%20client%20may%20not");
        Check.Equal(StatusCode.PermissionDenied, denied.Code, "7");
        Check.That(denied.Hint.Contains("admin"), "a hint about roles: " + denied.Message);
        Check.That(!denied.IsRetryable, "PermissionDenied not retryable");

        var busy = await TrailersOnly("8", "at%20capacity");
        Check.Equal(StatusCode.ResourceExhausted, busy.Code, "8");
        Check.Equal(null, busy.RetryAfter, "no retry-after-ms, no RetryAfter");
        Check.That(busy.IsRetryable && busy.Hint.Contains("retry later"), "retryable, with a hint: " + busy.Message);
    }

    static async Task RetryAfter()
    {
        var headers = await TrailersOnly("8", "busy", retryAfterMs: "1500");
        Check.Equal(TimeSpan.FromMilliseconds(1500), headers.RetryAfter, "from the headers");
        Check.That(headers.Message.Contains("retry in 1500 ms"), "the wait in the message: " + headers.Message);

        var body = Concat(Token("Hel", 0), Trailers("grpc-status: 8\r\ngrpc-message: busy\r\nRetry-After-Ms: 250\r\n"));
        var (transport, _) = Serve(() => GrpcWeb(new ScriptedBody(body)));
        var frame = await Check.Throws<GrpcStatusException>(() => Collect(transport));
        Check.Equal(TimeSpan.FromMilliseconds(250), frame.RetryAfter, "from the trailer frame");

        var malformed = await TrailersOnly("8", "busy", retryAfterMs: "soon");
        Check.Equal(null, malformed.RetryAfter, "a malformed retry-after-ms");
    }
}

/// <summary>Answers every request with a canned response; keeps the last request.</summary>
sealed class CannedHandler : HttpMessageHandler
{
    readonly Func<HttpResponseMessage> _respond;

    public CannedHandler(Func<HttpResponseMessage> respond) => _respond = respond;

    public HttpRequestMessage? Request { get; private set; }
    public byte[]? Body { get; private set; }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Request = request;
        Body = request.Content == null ? null : await request.Content.ReadAsByteArrayAsync();
        return _respond();
    }
}

/// <summary>
/// A response body that hands out at most maxRead bytes per read and, like a
/// server still generating, holds back everything after holdAfter bytes until
/// Release() (or forever; a read then waits until cancelled or disposed).
/// </summary>
sealed class ScriptedBody : Stream
{
    readonly byte[] _bytes;
    readonly int _maxRead;
    readonly int _holdAfter;
    readonly TaskCompletionSource<bool> _released = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly CancellationTokenSource _disposed = new CancellationTokenSource();
    int _position;

    public ScriptedBody(byte[] bytes, int maxRead = int.MaxValue, int holdAfter = int.MaxValue)
    {
        _bytes = bytes;
        _maxRead = maxRead;
        _holdAfter = holdAfter;
    }

    public void Release() => _released.TrySetResult(true);

    public bool IsDisposed => _disposed.IsCancellationRequested;

    public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        if (_position >= _holdAfter)
        {
            using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
            await Task.WhenAny(_released.Task, Task.Delay(Timeout.Infinite, either.Token));
            if (!_released.Task.IsCompleted)
                throw new IOException("the body was closed while a read waited");
        }
        var limit = _position < _holdAfter ? _holdAfter : _bytes.Length;
        var n = Math.Min(Math.Min(count, _maxRead), Math.Min(limit, _bytes.Length) - _position);
        Array.Copy(_bytes, _position, buffer, offset, n);
        _position += n;
        return n;
    }

    public override int Read(byte[] buffer, int offset, int count) =>
        ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    protected override void Dispose(bool disposing)
    {
        _disposed.Cancel();
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _position; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
