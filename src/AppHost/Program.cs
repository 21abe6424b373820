using Portico.AppHost;

// The system map: every process of Portico and how they find each other.
var builder = DistributedApplication.CreateBuilder(args);
var settings = AppHostSettings.From(builder.Configuration, builder.AppHostDirectory);

// The Redis-protocol store (Garnet, in-process): shared cache tier, rate-limit counters, job status.
var store = builder.AddProject<Projects.Store>("store", launchProfileName: null)
    .WithHttpEndpoint()
    .WithEnvironment("Store__Port", settings.StorePort.ToString(System.Globalization.CultureInfo.InvariantCulture))
    .WithHttpHealthCheck("/health/ready");

// Two Catalog instances share one database (same service, same data) so the gateway has something to balance.
var catalogDb = $"Data Source={Path.Combine(settings.DataDirectory, "catalog.db")}";
var catalogA = builder.AddService<Projects.Catalog>("catalog-a").WithEnvironment("ConnectionStrings__catalogdb", catalogDb);
var catalogB = builder.AddService<Projects.Catalog>("catalog-b").WithEnvironment("ConnectionStrings__catalogdb", catalogDb)
    .WaitFor(catalogA); // the first instance creates and seeds the file
var weather = builder.AddService<Projects.Weather>("weather");

// Identity issues the tokens; the gateway and the services check them against its key set.
var identity = builder.AddService<Projects.Identity>("identity")
    .WithEnvironment("ConnectionStrings__identitydb", $"Data Source={Path.Combine(settings.DataDirectory, "identity.db")}");

builder.AddProject<Projects.Gateway_Host>("gateway", launchProfileName: null)
    .WithHttpEndpoint(port: settings.GatewayPort, name: "http", isProxied: false)
    .WithHttpEndpoint(port: settings.GatewayH2cPort, name: "h2c", isProxied: false)
    .WithEnvironment("Kestrel__Endpoints__http__Url", settings.GatewayUrl)
    .WithEnvironment("Kestrel__Endpoints__h2c__Url", settings.GatewayH2cUrl)
    .WithHttpHealthCheck("/health/ready", endpointName: "http")
    .WithEnvironment("ConnectionStrings__store", settings.StoreConnectionString).WaitFor(store)
    .WithReference(catalogA).WaitFor(catalogA)
    .WithReference(catalogB).WaitFor(catalogB)
    .WithReference(weather).WaitFor(weather)
    .WithReference(identity).WaitFor(identity);

builder.Build().Run();
