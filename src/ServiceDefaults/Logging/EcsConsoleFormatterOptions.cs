using Microsoft.Extensions.Logging.Console;

namespace Portico.ServiceDefaults.Logging;

/// <summary>Settings of the <c>ecs</c> console format (<c>Logging:Console:FormatterOptions</c>).</summary>
public sealed class EcsConsoleFormatterOptions : ConsoleFormatterOptions
{
    /// <summary><c>service.name</c>: <c>OTEL_SERVICE_NAME</c> when set (the AppHost sets it), else the application name.</summary>
    public string ServiceName { get; set; } = "unknown";

    /// <summary><c>service.node.name</c>: which instance wrote the line (host name and process id by default).</summary>
    public string InstanceId { get; set; } = $"{Environment.MachineName}:{Environment.ProcessId}";
}
