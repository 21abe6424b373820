namespace Portico.Gateway.Configuration;

/// <summary>The gateway file is unusable; the message lists every problem found, one per line.</summary>
public sealed class GatewayConfigurationException : Exception
{
    public GatewayConfigurationException(string file, IReadOnlyList<string> errors)
        : base($"The gateway configuration '{file}' has {errors.Count} error(s):{Environment.NewLine}  - {string.Join(Environment.NewLine + "  - ", errors)}")
    {
        Errors = errors;
    }

    public IReadOnlyList<string> Errors { get; }
}
