using System.Text;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace Portico.Gateway.Forwarding;

/// <summary>
/// YARP's client factory with one default changed: header bytes cross the gateway as they came. Kestrel reads
/// request header bytes as Latin-1 (one char per byte, see <c>AddPorticoGateway</c>) and this client writes them back
/// the same way, so obs-text and UTF-8 in values (RFC 9110 §5.5) reach the destination unchanged instead of failing
/// as non-ASCII; answers likewise. A cluster that names its own <c>RequestHeaderEncoding</c> or
/// <c>ResponseHeaderEncoding</c> keeps it.
/// </summary>
internal sealed class ForwarderClientFactory(ILogger<ForwarderHttpClientFactory> logger) : ForwarderHttpClientFactory(logger)
{
    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        if (context.NewConfig.RequestHeaderEncoding is null)
        {
            handler.RequestHeaderEncodingSelector = static (_, _) => Encoding.Latin1;
        }
        if (context.NewConfig.ResponseHeaderEncoding is null)
        {
            handler.ResponseHeaderEncodingSelector = static (_, _) => Encoding.Latin1;
        }
    }
}
