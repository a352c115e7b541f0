// NOT CI-COMPILED. Needs Grpc.Net.Client and Grpc.Core.Api (NuGet), which no
// registry on our CI machine provides: CI only parse-checks this file
// (tree-sitter-c-sharp). Compiled into the game only when the scripting define
// NPC_RUNTIME_GRPC_NATIVE is set (see NpcRuntime.Native.asmdef).
//
// Native gRPC (HTTP/2) behind the same ITransport as GrpcWebTransport, for
// games that prefer the server's main port. Unity's own HttpClient has no
// HTTP/2, so give the channel a handler that has one, e.g. Cysharp's
// YetAnotherHttpHandler:
//
//   var channel = GrpcChannel.ForAddress("http://127.0.0.1:50051",
//       new GrpcChannelOptions { HttpHandler = new YetAnotherHttpHandler { Http2Only = true } });
//   var client = new NpcClient(new GrpcNativeTransport(channel));
//
// With `serve --auth-tokens`: new GrpcNativeTransport(channel, accessToken) sends
// "authorization: Bearer TOKEN" with every call. With --tls-cert, use an
// https:// address; for a private CA, give the HTTP handler a certificate check
// (ServerCertificateValidator.Validate does the same check as the gRPC-Web path).
//
// Generated/*Grpc.cs (grpc_csharp_plugin, client stubs) are the typed native
// clients, for code that wants them directly; this transport makes the same
// CallInvoker calls they make.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace NpcRuntime.Client.Native
{
    public sealed class GrpcNativeTransport : ITransport
    {
        readonly GrpcChannel _channel;
        readonly CallInvoker _invoker;
        readonly Metadata? _headers;

        /// <param name="accessToken">A token of the server's --auth-tokens file; null: none. Validated as NpcClientOptions.AccessToken.</param>
        public GrpcNativeTransport(GrpcChannel channel, string? accessToken = null)
        {
            _channel = channel;
            _invoker = channel.CreateCallInvoker();
            var token = new NpcClientOptions { AccessToken = accessToken }.AccessToken;
            _headers = token == null ? null : new Metadata { { "authorization", "Bearer " + token } };
        }

        public async Task<TResponse> UnaryAsync<TRequest, TResponse>(
            RpcMethod<TRequest, TResponse> method, TRequest request,
            IReadOnlyDictionary<string, string>? metadata = null,
            CancellationToken cancellationToken = default)
            where TRequest : IMessage<TRequest>
            where TResponse : IMessage<TResponse>
        {
            using var call = _invoker.AsyncUnaryCall(
                ToGrpc(method, MethodType.Unary), null, new CallOptions(Headers(metadata), cancellationToken: cancellationToken), request);
            try
            {
                return await call.ResponseAsync.ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                throw Translate(e, cancellationToken);
            }
        }

        public async IAsyncEnumerable<TResponse> ServerStreamingAsync<TRequest, TResponse>(
            RpcMethod<TRequest, TResponse> method, TRequest request,
            IReadOnlyDictionary<string, string>? metadata = null,
            [EnumeratorCancellation] CancellationToken cancellationToken = default)
            where TRequest : IMessage<TRequest>
            where TResponse : IMessage<TResponse>
        {
            using var call = _invoker.AsyncServerStreamingCall(
                ToGrpc(method, MethodType.ServerStreaming), null, new CallOptions(Headers(metadata), cancellationToken: cancellationToken), request);
            while (await MoveNextAsync(call.ResponseStream, cancellationToken).ConfigureAwait(false))
                yield return call.ResponseStream.Current;
        }

        public void Dispose() => _channel.Dispose();

        /// <summary>The token's header and this call's metadata (e.g. x-npc-session).</summary>
        Metadata? Headers(IReadOnlyDictionary<string, string>? metadata)
        {
            if (metadata == null || metadata.Count == 0)
                return _headers;
            var headers = new Metadata();
            foreach (var entry in _headers ?? new Metadata())
                headers.Add(entry);
            foreach (var pair in metadata)
                headers.Add(pair.Key, pair.Value);
            return headers;
        }

        static async Task<bool> MoveNextAsync<T>(IAsyncStreamReader<T> stream, CancellationToken cancellationToken)
        {
            try
            {
                return await stream.MoveNext(cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                throw Translate(e, cancellationToken);
            }
        }

        static Method<TRequest, TResponse> ToGrpc<TRequest, TResponse>(RpcMethod<TRequest, TResponse> method, MethodType type)
            where TRequest : IMessage<TRequest>
            where TResponse : IMessage<TResponse> =>
            new Method<TRequest, TResponse>(type, method.Service, method.Name,
                // A client never reads requests, so the request marshaller only writes.
                Marshallers.Create<TRequest>(r => r.ToByteArray(), _ => throw new NotSupportedException()),
                Marshallers.Create<TResponse>(r => r.ToByteArray(), method.ResponseParser.ParseFrom));

        /// <summary>The same exceptions as the gRPC-Web transport: game code handles one set.</summary>
        static Exception Translate(RpcException e, CancellationToken cancellationToken)
        {
            if (e.StatusCode == Grpc.Core.StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
                return new OperationCanceledException("the call was cancelled", e, cancellationToken);
            var retryAfter = GrpcWebFrames.ParseRetryAfter(e.Trailers.FirstOrDefault(t => t.Key == "retry-after-ms")?.Value);
            return new GrpcStatusException((StatusCode)(int)e.StatusCode, e.Status.Detail, e, retryAfter);
        }
    }
}
