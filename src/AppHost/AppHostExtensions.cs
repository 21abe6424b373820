using Microsoft.Extensions.Configuration;

namespace Portico.AppHost;

internal static class AppHostExtensions
{
    /// <summary>The address a process behind a proxied endpoint must listen on: loopback and the target port.</summary>
    public static ReferenceExpression LoopbackUrl(this EndpointReference endpoint) =>
        ReferenceExpression.Create($"http://127.0.0.1:{endpoint.Property(EndpointProperty.TargetPort)}");

    /// <summary>A service on a port of its own, reported healthy once its readiness endpoint answers.</summary>
    public static IResourceBuilder<ProjectResource> AddService<TProject>(this IDistributedApplicationBuilder builder, string name)
        where TProject : IProjectMetadata, new() =>
        builder.AddProject<TProject>(name, launchProfileName: null)
            .WithHttpEndpoint()
            .WithEnvironment("ASPNETCORE_ENVIRONMENT", builder.Environment.EnvironmentName)
            .WithHttpHealthCheck("/health/ready");
}

/// <summary>AppHost settings: <c>Portico:GatewayPort</c>, <c>Portico:GatewayH2cPort</c>, <c>Portico:StorePort</c>, <c>Portico:DataDirectory</c>.</summary>
internal sealed record AppHostSettings(int GatewayPort, int GatewayH2cPort, int StorePort, string DataDirectory)
{
    /// <summary>StackExchange.Redis connection string of the embedded store.</summary>
    public string StoreConnectionString => $"127.0.0.1:{StorePort}";

    public string GatewayUrl => $"http://127.0.0.1:{GatewayPort}";
    public string GatewayH2cUrl => $"http://127.0.0.1:{GatewayH2cPort}";

    public static AppHostSettings From(IConfiguration configuration, string appHostDirectory)
    {
        var dataDirectory = Path.GetFullPath(configuration["Portico:DataDirectory"] ?? ".data", appHostDirectory);
        Directory.CreateDirectory(dataDirectory);
        return new AppHostSettings(
            configuration.GetValue("Portico:GatewayPort", 8080),
            configuration.GetValue("Portico:GatewayH2cPort", 8081),
            configuration.GetValue("Portico:StorePort", 6379),
            dataDirectory);
    }
}

internal static class NodePackages
{
    /// <summary>
    /// Whether <c>npm ci</c> must run: npm records what it installed in <c>node_modules/.package-lock.json</c>, so packages
    /// are current when that record is at least as new as the project's lock file and manifest.
    /// </summary>
    public static bool NeedInstall(string projectDirectory)
    {
        var installed = new FileInfo(Path.Combine(projectDirectory, "node_modules", ".package-lock.json"));
        return !installed.Exists
            || installed.LastWriteTimeUtc < File.GetLastWriteTimeUtc(Path.Combine(projectDirectory, "package-lock.json"))
            || installed.LastWriteTimeUtc < File.GetLastWriteTimeUtc(Path.Combine(projectDirectory, "package.json"));
    }
}
