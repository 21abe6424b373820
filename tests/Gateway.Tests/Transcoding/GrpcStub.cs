using System.Buffers.Binary;
using System.Collections.Concurrent;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Portico.Gateway.Tests.Transcoding;

/// <summary>
/// A unary gRPC method served over h2c by a test backend, framed by hand: it records each request message and
/// the Authorization header it came with, and answers what the test says (a reply, or a status with a message).
/// </summary>
internal sealed class GrpcStub<TRequest, TReply>(MessageParser<TRequest> parser)
    where TRequest : IMessage<TRequest>
    where TReply : IMessage<TReply>
{
    public ConcurrentQueue<(TRequest Request, string Authorization)> Calls { get; } = new();

    public Func<TRequest, (int Status, string Message, TReply? Reply)> Answer { get; set; } = _ => (12, "not set", default);

    public void Map(IEndpointRouteBuilder app, string path) => app.MapPost(path, async context =>
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        var bytes = buffer.ToArray();
        var request = parser.ParseFrom(bytes, 5, (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(1)));
        Calls.Enqueue((request, context.Request.Headers.Authorization.ToString()));

        var (status, message, reply) = Answer(request);
        context.Response.ContentType = "application/grpc";
        if (status == 0 && reply is not null)
        {
            var payload = reply.ToByteArray();
            var frame = new byte[5 + payload.Length];
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
            payload.CopyTo(frame, 5);
            await context.Response.Body.WriteAsync(frame);
        }
        context.Response.AppendTrailer("grpc-status", status.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (message.Length > 0)
        {
            context.Response.AppendTrailer("grpc-message", Uri.EscapeDataString(message));
        }
    });
}
