using System;

namespace NpcRuntime.Client
{
    /// <summary>The gRPC status codes (same numbers on every gRPC implementation).</summary>
    public enum StatusCode
    {
        OK = 0,
        Cancelled = 1,
        Unknown = 2,
        InvalidArgument = 3,
        DeadlineExceeded = 4,
        NotFound = 5,
        AlreadyExists = 6,
        PermissionDenied = 7,
        ResourceExhausted = 8,
        FailedPrecondition = 9,
        Aborted = 10,
        OutOfRange = 11,
        Unimplemented = 12,
        Internal = 13,
        Unavailable = 14,
        DataLoss = 15,
        Unauthenticated = 16,
    }

    /// <summary>
    /// A call ended with a status other than OK: the server refused it (e.g.
    /// NotFound for an unknown session, InvalidArgument for empty text, with the
    /// server's message in <see cref="Detail"/>), or the transport failed
    /// (Unavailable: no connection, or the server's TLS certificate was rejected;
    /// Internal: a malformed response). The codes a game should act on:
    /// <list type="bullet">
    /// <item><see cref="StatusCode.Unauthenticated"/>: no access token, or one the server does not know. Set <see cref="NpcClientOptions.AccessToken"/>; retrying does not help.</item>
    /// <item><see cref="StatusCode.PermissionDenied"/>: the token is valid but its role may not make this call (SetQuestState and LoadWorld need an admin token). Retrying does not help.</item>
    /// <item><see cref="StatusCode.ResourceExhausted"/>: the server is at capacity. Retry after <see cref="RetryAfter"/>.</item>
    /// </list>
    /// <see cref="Exception.Message"/> is "Code: detail (hint)", fit for a log; it never contains the token.
    /// </summary>
    public sealed class GrpcStatusException : Exception
    {
        /// <param name="retryAfter">The server's retry-after-ms hint, if it sent one.</param>
        /// <param name="hint">What to do about it; null: the default for <paramref name="code"/> (see <see cref="HintFor"/>).</param>
        public GrpcStatusException(StatusCode code, string detail, Exception? inner = null,
            TimeSpan? retryAfter = null, string? hint = null)
            : base(Compose(code, detail, hint ?? HintFor(code, retryAfter)), inner)
        {
            Code = code;
            Detail = detail;
            RetryAfter = retryAfter;
            Hint = hint ?? HintFor(code, retryAfter);
        }

        public StatusCode Code { get; }

        /// <summary>The server's grpc-message, decoded (or the transport's own words); may be empty.</summary>
        public string Detail { get; }

        /// <summary>
        /// How long to wait before trying again, from the server's trailing metadata
        /// retry-after-ms (sent with ResourceExhausted when the server is at capacity);
        /// null when the server sent none.
        /// </summary>
        public TimeSpan? RetryAfter { get; }

        /// <summary>What a game developer can do about this code, in one sentence; "" when nothing specific.</summary>
        public string Hint { get; }

        /// <summary>True for the codes where trying the same call again later may succeed.</summary>
        public bool IsRetryable =>
            Code == StatusCode.ResourceExhausted || Code == StatusCode.Unavailable || Code == StatusCode.Aborted;

        /// <summary>The default hint for a code: what to change for Unauthenticated, PermissionDenied and ResourceExhausted.</summary>
        public static string HintFor(StatusCode code, TimeSpan? retryAfter = null)
        {
            switch (code)
            {
                case StatusCode.Unauthenticated:
                    return "the server needs a valid access token: set NpcClientOptions.AccessToken " +
                           "(NpcDialogue: Access Token) to a token of the server's --auth-tokens file";
                case StatusCode.PermissionDenied:
                    return "the access token is valid but its role may not do this " +
                           "(SetQuestState and LoadWorld need an admin token)";
                case StatusCode.ResourceExhausted:
                    return retryAfter.HasValue
                        ? $"the server is at capacity: retry in {(long)retryAfter.Value.TotalMilliseconds} ms"
                        : "the server is at capacity: retry later";
                default:
                    return "";
            }
        }

        static string Compose(StatusCode code, string detail, string hint) =>
            hint.Length == 0 ? code + ": " + detail : code + ": " + detail + " (" + hint + ")";
    }
}
