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
    /// (Unavailable: no connection; Internal: a malformed response).
    /// </summary>
    public sealed class GrpcStatusException : Exception
    {
        public GrpcStatusException(StatusCode code, string detail, Exception? inner = null)
            : base(code + ": " + detail, inner)
        {
            Code = code;
            Detail = detail;
        }

        public StatusCode Code { get; }

        /// <summary>The server's grpc-message, decoded; may be empty.</summary>
        public string Detail { get; }
    }
}
