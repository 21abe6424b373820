using Microsoft.Extensions.Logging;

namespace Portico.Gateway.Telemetry;

/// <summary>The access log's category and its one message. Turn it off with <c>Logging:LogLevel:Portico.AccessLog = Warning</c>.</summary>
internal static partial class AccessLog
{
    public const string Category = "Portico.AccessLog";

    [LoggerMessage(100, LogLevel.Information, "{Method} {Path} {StatusCode} {Protocol} route={Route} {ElapsedMs:0.000}ms id={RequestId}",
        SkipEnabledCheck = true)]
    public static partial void Request(ILogger logger, string method, string? path, int statusCode, string protocol,
        string? route, double elapsedMs, string requestId);
}
