using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Google.Protobuf;

namespace NpcRuntime.Client
{
    /// <summary>One gRPC-Web frame: a message, or the trailers that end the call.</summary>
    public readonly struct GrpcWebFrame
    {
        public GrpcWebFrame(bool isTrailers, byte[] payload)
        {
            IsTrailers = isTrailers;
            Payload = payload;
        }

        public bool IsTrailers { get; }
        public byte[] Payload { get; }
    }

    /// <summary>
    /// gRPC-Web framing (binary mode). A frame is one flag byte, a big-endian uint32
    /// length and the payload. Flag 0x00 carries a message, 0x80 the trailers as
    /// "name: value\r\n" lines. Bit 0x01 marks compression, which we never ask for.
    /// </summary>
    public static class GrpcWebFrames
    {
        const byte TrailersFlag = 0x80;
        const byte CompressedFlag = 0x01;
        const int HeaderSize = 5;

        /// <summary>Refuse frames above this size: a corrupt length must not allocate gigabytes.</summary>
        public const int MaxFrameBytes = 16 * 1024 * 1024;

        /// <summary>A request body: the message as one data frame.</summary>
        public static byte[] Encode(IMessage message)
        {
            var payload = message.ToByteArray();
            var frame = new byte[HeaderSize + payload.Length];
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1, 4), (uint)payload.Length);
            payload.CopyTo(frame, HeaderSize);
            return frame;
        }

        /// <summary>
        /// Reads the next frame from a response body, awaiting bytes as they arrive
        /// (a frame may be split across any number of network reads). Returns null
        /// at the end of the body when no byte of another frame was read.
        /// </summary>
        public static async Task<GrpcWebFrame?> ReadAsync(Stream body, CancellationToken cancellationToken)
        {
            var header = new byte[HeaderSize];
            var got = await FillAsync(body, header, cancellationToken).ConfigureAwait(false);
            if (got == 0)
                return null;
            if (got < HeaderSize)
                throw Truncated();

            var flags = header[0];
            var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1, 4));
            if ((flags & CompressedFlag) != 0)
                throw new GrpcStatusException(StatusCode.Internal, "compressed gRPC-Web frames are not supported");
            if (length > MaxFrameBytes)
                throw new GrpcStatusException(StatusCode.ResourceExhausted,
                    $"gRPC-Web frame of {length} bytes, over the client's limit of {MaxFrameBytes}", hint: "");

            var payload = new byte[length];
            if (await FillAsync(body, payload, cancellationToken).ConfigureAwait(false) < payload.Length)
                throw Truncated();
            return new GrpcWebFrame((flags & TrailersFlag) != 0, payload);
        }

        /// <summary>
        /// The status a trailers frame carries: "grpc-status: 5\r\ngrpc-message: ...\r\n",
        /// names in any case, the message percent-encoded UTF-8.
        /// </summary>
        public static (StatusCode Code, string Detail) ParseTrailers(byte[] payload)
        {
            var trailers = ParseMetadata(payload);
            trailers.TryGetValue("grpc-message", out var message);
            trailers.TryGetValue("grpc-status", out var status);
            return ToStatus(status, DecodeMessage(message ?? ""));
        }

        /// <summary>
        /// Every "name: value" line of a trailers frame, names matched in any case (the
        /// last one wins), values as sent: grpc-status, grpc-message and the call's
        /// trailing metadata such as retry-after-ms.
        /// </summary>
        public static Dictionary<string, string> ParseMetadata(byte[] payload)
        {
            var metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var line in Encoding.ASCII.GetString(payload).Split(new[] { "\r\n" }, StringSplitOptions.RemoveEmptyEntries))
            {
                var colon = line.IndexOf(':');
                if (colon <= 0)
                    continue;
                metadata[line.Substring(0, colon).Trim()] = line.Substring(colon + 1).Trim();
            }
            return metadata;
        }

        /// <summary>
        /// The exception for a status: null for OK. <paramref name="retryAfterMs"/> is the
        /// retry-after-ms metadata the server sends with ResourceExhausted.
        /// </summary>
        public static GrpcStatusException? ToException(string? status, string detail, string? retryAfterMs)
        {
            var (code, message) = ToStatus(status, detail);
            return code == StatusCode.OK ? null : new GrpcStatusException(code, message, retryAfter: ParseRetryAfter(retryAfterMs));
        }

        /// <summary>retry-after-ms as a TimeSpan: a whole number of milliseconds (at most a day); null when absent or malformed.</summary>
        public static TimeSpan? ParseRetryAfter(string? value)
        {
            if (value == null || !long.TryParse(value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
                return null;
            return TimeSpan.FromMilliseconds(Math.Min(ms, 24L * 3600 * 1000));
        }

        /// <summary>A grpc-status/grpc-message pair (from trailers or HTTP headers) as a status.</summary>
        public static (StatusCode Code, string Detail) ToStatus(string? status, string detail)
        {
            if (status == null)
                return (StatusCode.Internal, "the server sent no grpc-status");
            if (!int.TryParse(status, out var code) || code < 0 || code > (int)StatusCode.Unauthenticated)
                return (StatusCode.Unknown, $"unknown grpc-status '{status}': {detail}");
            return ((StatusCode)code, detail);
        }

        /// <summary>grpc-message is percent-encoded UTF-8 (spaces come as %20).</summary>
        public static string DecodeMessage(string value) => Uri.UnescapeDataString(value);

        static async Task<int> FillAsync(Stream body, byte[] buffer, CancellationToken cancellationToken)
        {
            var total = 0;
            while (total < buffer.Length)
            {
                var read = await body.ReadAsync(buffer, total, buffer.Length - total, cancellationToken)
                    .ConfigureAwait(false);
                if (read == 0)
                    break;
                total += read;
            }
            return total;
        }

        static GrpcStatusException Truncated() =>
            new GrpcStatusException(StatusCode.Internal, "the response ended inside a gRPC-Web frame");
    }
}
