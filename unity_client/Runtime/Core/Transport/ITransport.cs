using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Google.Protobuf;

namespace NpcRuntime.Client
{
    /// <summary>
    /// One RPC of a service: its path and how to read its responses. Transports
    /// need nothing else, so the same descriptors work over gRPC-Web and native gRPC.
    /// </summary>
    public sealed class RpcMethod<TRequest, TResponse>
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        public RpcMethod(string service, string name, MessageParser<TResponse> responseParser)
        {
            Service = service;
            Name = name;
            ResponseParser = responseParser;
        }

        /// <summary>Full service name, e.g. "npc.v1.DialogueService".</summary>
        public string Service { get; }

        /// <summary>Method name, e.g. "Say".</summary>
        public string Name { get; }

        public MessageParser<TResponse> ResponseParser { get; }

        /// <summary>The HTTP path gRPC uses: "/npc.v1.DialogueService/Say".</summary>
        public string Path => "/" + Service + "/" + Name;
    }

    /// <summary>
    /// How calls reach the server. <see cref="GrpcWebTransport"/> (HTTP/1.1,
    /// HttpClient) is the default; a native HTTP/2 transport can sit behind the same
    /// interface (see Runtime/Native). Every method throws
    /// <see cref="GrpcStatusException"/> for a non-OK status and
    /// <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/>
    /// is cancelled. <c>metadata</c>: headers (gRPC metadata) for this call only, such as
    /// the conversation's affinity key <c>x-npc-session</c>; names in lower case, values
    /// printable ASCII (ArgumentException otherwise).
    /// </summary>
    public interface ITransport : IDisposable
    {
        /// <summary>One request, one response.</summary>
        Task<TResponse> UnaryAsync<TRequest, TResponse>(
            RpcMethod<TRequest, TResponse> method, TRequest request,
            IReadOnlyDictionary<string, string>? metadata = null,
            CancellationToken cancellationToken = default)
            where TRequest : IMessage<TRequest>
            where TResponse : IMessage<TResponse>;

        /// <summary>
        /// One request, responses as they arrive. The call starts when enumeration
        /// starts; disposing the enumerator early (break) ends the call.
        /// </summary>
        IAsyncEnumerable<TResponse> ServerStreamingAsync<TRequest, TResponse>(
            RpcMethod<TRequest, TResponse> method, TRequest request,
            IReadOnlyDictionary<string, string>? metadata = null,
            CancellationToken cancellationToken = default)
            where TRequest : IMessage<TRequest>
            where TResponse : IMessage<TResponse>;
    }
}
