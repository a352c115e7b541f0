using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using System.Threading;
using System.Threading.Tasks;
using Google.Protobuf;

namespace NpcRuntime.Client
{
    /// <summary>
    /// gRPC-Web (binary protobuf) over plain HttpClient and HTTP/1.1: no native
    /// code, so it runs wherever Unity's HttpClient does (editor, desktop, mobile;
    /// not WebGL, see the package docs). Server-streamed messages are handed out as
    /// their frames arrive. With <see cref="NpcClientOptions"/>: an access token on
    /// every call, and https that trusts a given CA.
    /// </summary>
    public sealed class GrpcWebTransport : ITransport
    {
        const string GrpcWebProto = "application/grpc-web+proto";

        readonly HttpClient _http;
        readonly bool _ownsHttp;
        readonly Uri _baseAddress;
        readonly string? _authorization;
        readonly ServerCertificateValidator? _validator;

        /// <param name="baseAddress">The server's gRPC-Web address, e.g. http://127.0.0.1:8080/.</param>
        /// <param name="httpClient">
        /// Optional. Without one, the transport makes (and disposes) its own with no
        /// timeout: a reply that waits on a tool call may take longer than
        /// HttpClient's default 100 s, so calls end through cancellation tokens instead.
        /// </param>
        public GrpcWebTransport(Uri baseAddress, HttpClient? httpClient = null)
            : this(baseAddress, new NpcClientOptions(), httpClient)
        {
        }

        /// <param name="baseAddress">The server's gRPC-Web address: https://host:port/ when it serves TLS.</param>
        /// <param name="options">The access token and the CA to trust (both optional).</param>
        /// <param name="httpClient">
        /// Optional, as above. With a CA in <paramref name="options"/> leave it null (the
        /// transport builds a handler that trusts that CA), or build yours from
        /// <see cref="ServerCertificateValidator.CreateHandler"/> and leave the CA out.
        /// </param>
        /// <exception cref="ArgumentException">A CA PEM with no certificate in it, or a CA together with an HttpClient.</exception>
        public GrpcWebTransport(Uri baseAddress, NpcClientOptions options, HttpClient? httpClient = null)
        {
            // Uri resolution drops the last path segment unless the base ends in '/'.
            _baseAddress = baseAddress.AbsoluteUri.EndsWith("/") ? baseAddress : new Uri(baseAddress.AbsoluteUri + "/");
            _authorization = options.AccessToken == null ? null : "Bearer " + options.AccessToken;
            var https = _baseAddress.Scheme == Uri.UriSchemeHttps;
            if (https && !string.IsNullOrWhiteSpace(options.CaCertificatePem))
            {
                if (httpClient != null)
                    throw new ArgumentException("a CA certificate needs the transport's own HttpClient: pass no HttpClient, " +
                                                "or give yours a handler from ServerCertificateValidator.CreateHandler()");
                _validator = ServerCertificateValidator.FromPem(options.CaCertificatePem!);
            }
            _ownsHttp = httpClient == null;
            _http = httpClient ?? (_validator == null
                ? new HttpClient { Timeout = Timeout.InfiniteTimeSpan }
                : new HttpClient(_validator.CreateHandler()) { Timeout = Timeout.InfiniteTimeSpan });
        }

        public async Task<TResponse> UnaryAsync<TRequest, TResponse>(
            RpcMethod<TRequest, TResponse> method, TRequest request,
            IReadOnlyDictionary<string, string>? metadata = null,
            CancellationToken cancellationToken = default)
            where TRequest : IMessage<TRequest>
            where TResponse : IMessage<TResponse>
        {
            // A unary response is a stream of exactly one message.
            var responses = new List<TResponse>(1);
            await foreach (var response in ServerStreamingAsync(method, request, metadata, cancellationToken).ConfigureAwait(false))
                responses.Add(response);
            if (responses.Count != 1)
                throw new GrpcStatusException(StatusCode.Internal,
                    $"{method.Path} returned {responses.Count} messages, expected 1");
            return responses[0];
        }

        public async IAsyncEnumerable<TResponse> ServerStreamingAsync<TRequest, TResponse>(
            RpcMethod<TRequest, TResponse> method, TRequest request,
            IReadOnlyDictionary<string, string>? metadata = null,
            [EnumeratorCancellation] CancellationToken cancellationToken = default)
            where TRequest : IMessage<TRequest>
            where TResponse : IMessage<TResponse>
        {
            using var httpRequest = new HttpRequestMessage(HttpMethod.Post, new Uri(_baseAddress, method.Path.TrimStart('/')))
            {
                Content = new ByteArrayContent(GrpcWebFrames.Encode(request)),
            };
            httpRequest.Content.Headers.ContentType = new MediaTypeHeaderValue(GrpcWebProto);
            httpRequest.Headers.TryAddWithoutValidation("Accept", GrpcWebProto);
            httpRequest.Headers.TryAddWithoutValidation("X-Grpc-Web", "1");
            if (_authorization != null)
                httpRequest.Headers.TryAddWithoutValidation("authorization", _authorization);
            foreach (var header in metadata ?? NoMetadata)
                httpRequest.Headers.TryAddWithoutValidation(header.Key, CheckedHeader(header.Key, header.Value));

            using var response = await SendAsync(httpRequest, cancellationToken).ConfigureAwait(false);
            if (IsTrailersOnly(response))
                yield break;
            using var body = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
            // Not every HttpClient stream honours a token while a read waits for the
            // network (Mono's does not); disposing the response always ends that read.
            using var abort = cancellationToken.Register(response.Dispose);

            while (true)
            {
                var frame = await ReadFrameAsync(body, cancellationToken).ConfigureAwait(false);
                if (frame == null)
                    throw new GrpcStatusException(StatusCode.Internal, $"{method.Path}: the response ended without trailers");
                if (frame.Value.IsTrailers)
                {
                    var trailers = GrpcWebFrames.ParseMetadata(frame.Value.Payload);
                    trailers.TryGetValue("grpc-status", out var status);
                    trailers.TryGetValue("grpc-message", out var message);
                    trailers.TryGetValue("retry-after-ms", out var retryAfterMs);
                    var error = GrpcWebFrames.ToException(status, GrpcWebFrames.DecodeMessage(message ?? ""), retryAfterMs);
                    if (error != null)
                        throw error;
                    yield break;
                }
                yield return Parse(method.ResponseParser, frame.Value.Payload);
            }
        }

        public void Dispose()
        {
            if (_ownsHttp)
                _http.Dispose();
        }

        static readonly IReadOnlyDictionary<string, string> NoMetadata = new Dictionary<string, string>();

        /// <summary>The value, if a header can carry it as is (no line breaks: nothing can be smuggled in).</summary>
        static string CheckedHeader(string name, string value)
        {
            if (name.Length == 0 || name.Any(c => c <= ' ' || c > '~' || char.IsUpper(c)) || name == "authorization")
                throw new ArgumentException($"not a metadata name a call may set: '{name}'", nameof(name));
            if (value.Any(c => c < ' ' || c > '~'))
                throw new ArgumentException($"the value of {name} must be printable ASCII", nameof(value));
            return value;
        }

        async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            try
            {
                // ResponseHeadersRead: hand the body over as it streams in, not once complete.
                return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new GrpcStatusException(StatusCode.DeadlineExceeded, "the HttpClient timed out");
            }
            catch (HttpRequestException e)
            {
                throw Unreachable(e);
            }
        }

        /// <summary>Unavailable, saying why: for a refused TLS certificate, what was wrong with it and what to set.</summary>
        GrpcStatusException Unreachable(HttpRequestException e)
        {
            var messages = new List<string>();
            var tls = false;
            for (Exception? inner = e; inner != null; inner = inner.InnerException)
            {
                tls |= inner is AuthenticationException;
                if (!messages.Contains(inner.Message))
                    messages.Add(inner.Message);
            }
            var detail = string.Join(" ", messages);
            if (!tls)
                return new GrpcStatusException(StatusCode.Unavailable, detail, e,
                    hint: "is the server running with --web-port at this URL, and is the scheme right " +
                          "(https:// when it has --tls-cert, http:// when not)?");
            var rejection = _validator?.LastRejection;
            if (rejection != null)
                return new GrpcStatusException(StatusCode.Unavailable,
                    "the server's TLS certificate was refused: " + rejection, e,
                    hint: "give the CA that issued the server's --tls-cert (or that certificate itself) " +
                          "as NpcClientOptions.CaCertificatePem, and use a host name the certificate names");
            return new GrpcStatusException(StatusCode.Unavailable, "TLS failed: " + detail, e,
                hint: _validator == null
                    ? "if the server's certificate is self-signed or from a private CA, give that CA " +
                      "(or the certificate itself) as NpcClientOptions.CaCertificatePem (NpcDialogue: Ca Certificate)"
                    : "");
        }

        /// <summary>
        /// Checks the response headers. Returns true for a trailers-only response
        /// with status OK (no messages); throws for an error, which a server may send
        /// as grpc-status/grpc-message HTTP headers with an empty body.
        /// </summary>
        static bool IsTrailersOnly(HttpResponseMessage response)
        {
            var status = Header(response, "grpc-status");
            if (status != null)
            {
                var error = GrpcWebFrames.ToException(status,
                    GrpcWebFrames.DecodeMessage(Header(response, "grpc-message") ?? ""), Header(response, "retry-after-ms"));
                if (error != null)
                    throw error;
                return true;
            }
            if (response.StatusCode != HttpStatusCode.OK)
                throw new GrpcStatusException(FromHttpStatus(response.StatusCode),
                    $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            var contentType = response.Content.Headers.ContentType?.MediaType ?? "";
            if (!contentType.StartsWith("application/grpc-web", StringComparison.OrdinalIgnoreCase))
                throw new GrpcStatusException(StatusCode.Unknown,
                    $"not a gRPC-Web response (content-type '{contentType}'): is this the server's --web-port?");
            return false;
        }

        static string? Header(HttpResponseMessage response, string name)
        {
            if (response.Headers.TryGetValues(name, out var values) ||
                response.Content.Headers.TryGetValues(name, out values))
                return values.FirstOrDefault();
            return null;
        }

        /// <summary>The mapping gRPC specifies for HTTP errors that carry no grpc-status.</summary>
        static StatusCode FromHttpStatus(HttpStatusCode status)
        {
            switch ((int)status)
            {
                case 400: return StatusCode.Internal;
                case 401: return StatusCode.Unauthenticated;
                case 403: return StatusCode.PermissionDenied;
                case 404: return StatusCode.Unimplemented;
                case 429:
                case 502:
                case 503:
                case 504: return StatusCode.Unavailable;
                default: return StatusCode.Unknown;
            }
        }

        static async Task<GrpcWebFrame?> ReadFrameAsync(Stream body, CancellationToken cancellationToken)
        {
            try
            {
                return await GrpcWebFrames.ReadAsync(body, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (cancellationToken.IsCancellationRequested && !(e is GrpcStatusException || e is OperationCanceledException))
            {
                // The read was ended by our cancellation (possibly via Dispose): report that.
                throw new OperationCanceledException("the call was cancelled", e, cancellationToken);
            }
            catch (Exception e) when (e is IOException || e is ObjectDisposedException || e is HttpRequestException)
            {
                throw new GrpcStatusException(StatusCode.Unavailable, "the connection broke mid-response: " + e.Message, e);
            }
        }

        static T Parse<T>(MessageParser<T> parser, byte[] payload) where T : IMessage<T>
        {
            try
            {
                return parser.ParseFrom(payload);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new GrpcStatusException(StatusCode.Internal, "a response message could not be parsed: " + e.Message, e);
            }
        }
    }
}
