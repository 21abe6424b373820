namespace Portico.Gateway.Telemetry;

/// <summary>The one meter every gateway feature records into (ServiceDefaults exports <c>Portico.*</c>).</summary>
internal static class GatewayMeter
{
    public const string Name = "Portico.Gateway";
}
