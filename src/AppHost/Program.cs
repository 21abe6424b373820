using Portico.AppHost;

// The system map: every process of Portico and how they find each other.
// Services start together and wait only for what they cannot start without (the store, the Catalog file's first
// creator); each tolerates the others being down, as in production. The gateway waits for all, so that a healthy
// gateway means a ready system.
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

// Identity issues the tokens; the gateway and the services check them against its key set. The gateway signs
// in as a service client (client_credentials) with a secret generated for this run and known to both only, and may
// ask for tokens for Loyalty only (RFC 8707 resources; each service names its own in Portico:Jwt:Resource).
// Identity writes its revocation list (logout, password change, deleted accounts) to the store, where the gateway
// and every service that validates tokens read it.
var gatewaySecret = builder.AddParameter("gateway-client-secret", new GenerateParameterDefault { MinLength = 40, Special = false }, secret: true);
var identity = builder.AddService<Projects.Identity>("identity")
    .WithEnvironment("ConnectionStrings__identitydb", $"Data Source={Path.Combine(settings.DataDirectory, "identity.db")}")
    .WithEnvironment("Identity__KeyRing__Path", Path.Combine(settings.DataDirectory, "identity-keys"))
    .WithEnvironment("Identity__MailSink__Path", Path.Combine(settings.DataDirectory, "identity-mail"))
    .WithEnvironment("Identity__Clients__gateway__Secret", gatewaySecret)
    .WithEnvironment("Identity__Clients__gateway__Resources__0", "urn:portico:loyalty")
    .WithEnvironment("ConnectionStrings__store", settings.StoreConnectionString).WaitFor(store);
// The administrator's password, when the operator (or a system test) sets one; otherwise Development prints a generated
// one once on Identity's console.
if (builder.Configuration["Portico:AdminPassword"] is { Length: > 0 } adminPassword)
{
    identity.WithEnvironment("Identity__Admin__Password", adminPassword);
}

// Catalog checks the admin's bearer token on product writes against Identity's key set.
catalogA.WithReference(identity);
catalogB.WithReference(identity);

// Ordering prices orders from Catalog (both instances, through service discovery) and owns its database.
var ordering = builder.AddService<Projects.Ordering>("ordering")
    .WithEnvironment("ConnectionStrings__orderingdb", $"Data Source={Path.Combine(settings.DataDirectory, "ordering.db")}")
    .WithEnvironment("services__catalog__http__0", catalogA.GetEndpoint("http"))
    .WithEnvironment("services__catalog__http__1", catalogB.GetEndpoint("http"))
    .WithReference(identity);

// Messaging (Portico.Messaging): Ordering's outbox relay publishes to the embedded store's Redis-protocol transport,
// unless ConnectionStrings:broker names another broker (an amqp:// URI runs the same system on RabbitMQ).
ordering.WithEnvironment("ConnectionStrings__store", settings.StoreConnectionString).WaitFor(store);
// Catalog consumes OrderPlaced/OrderCancelled (stock) and publishes StockRejected and ProductChanged the same way.
foreach (var catalog in new[] { catalogA, catalogB })
{
    catalog.WithEnvironment("ConnectionStrings__store", settings.StoreConnectionString).WaitFor(store);
}
if (builder.Configuration["ConnectionStrings:broker"] is { Length: > 0 } broker)
{
    ordering.WithEnvironment("ConnectionStrings__broker", broker);
    catalogA.WithEnvironment("ConnectionStrings__broker", broker);
    catalogB.WithEnvironment("ConnectionStrings__broker", broker);
}

// Reporting builds the sales read model from Ordering's events and runs the gateway's report jobs, on the same broker.
var reporting = builder.AddService<Projects.Reporting>("reporting")
    .WithEnvironment("ConnectionStrings__reportingdb", $"Data Source={Path.Combine(settings.DataDirectory, "reporting.db")}")
    .WithEnvironment("ConnectionStrings__store", settings.StoreConnectionString).WaitFor(store)
    .WithReference(identity);
if (builder.Configuration["ConnectionStrings:broker"] is { Length: > 0 } reportingBroker)
{
    reporting.WithEnvironment("ConnectionStrings__broker", reportingBroker);
}

// Loyalty speaks gRPC on an HTTP/2-only endpoint, and HTTP/1.1 for health and metrics on another.
var loyalty = builder.AddProject<Projects.Loyalty>("loyalty", launchProfileName: null)
    .WithHttpEndpoint(name: "http")
    .WithHttpEndpoint(name: "grpc")
    .WithEnvironment("ASPNETCORE_ENVIRONMENT", builder.Environment.EnvironmentName)
    .WithEnvironment("ConnectionStrings__loyaltydb", $"Data Source={Path.Combine(settings.DataDirectory, "loyalty.db")}")
    .WithHttpHealthCheck("/health/ready", endpointName: "http")
    .WithEnvironment("ConnectionStrings__store", settings.StoreConnectionString).WaitFor(store) // the revocation list
    .WithReference(identity);
loyalty
    .WithEnvironment("Kestrel__Endpoints__http__Url", loyalty.GetEndpoint("http").LoopbackUrl())
    .WithEnvironment("Kestrel__Endpoints__grpc__Url", loyalty.GetEndpoint("grpc").LoopbackUrl());

// Loyalty consumes OrderCancelled.v1 from the same broker as Ordering publishes to, and its reconciler reads Ordering's
// /internal/orders as the service client "loyalty" (client_credentials, a secret generated per run).
loyalty.WithEnvironment("ConnectionStrings__store", settings.StoreConnectionString).WaitFor(store);
if (builder.Configuration["ConnectionStrings:broker"] is { Length: > 0 } loyaltyBroker)
{
    loyalty.WithEnvironment("ConnectionStrings__broker", loyaltyBroker);
}
var loyaltySecret = builder.AddParameter("loyalty-client-secret", new GenerateParameterDefault { MinLength = 40, Special = false }, secret: true);
identity.WithEnvironment("Identity__Clients__loyalty__Secret", loyaltySecret)
    .WithEnvironment("Identity__Clients__loyalty__Resources__0", "urn:portico:ordering"); // RFC 8707: its tokens are for Ordering only
loyalty.WithEnvironment("Loyalty__Reconciler__ClientSecret", loyaltySecret).WithReference(ordering);

// Autocomplete is Node.js: node on a port from Aspire, after npm ci when its packages are missing or older than the
// lock file (a fresh machine has no node_modules; npm ci rewrites all of them, minutes on a busy 2-core machine).
// It reads Catalog's products through the same service-discovery variables the .NET services use.
var autocompleteDirectory = Path.GetFullPath(Path.Combine(builder.AppHostDirectory, "..", "..", "services", "Autocomplete"));
var autocomplete = builder.AddExecutable("autocomplete", "node", autocompleteDirectory, "src/main.js")
    .WithHttpEndpoint(name: "http", env: "PORT")
    .WithEnvironment("services__catalog__http__0", catalogA.GetEndpoint("http"))
    .WithEnvironment("services__catalog__http__1", catalogB.GetEndpoint("http"))
    .WithOtlpExporter()
    .WithHttpHealthCheck("/health/ready");
if (NodePackages.NeedInstall(autocompleteDirectory))
{
    autocomplete.WaitForCompletion(builder.AddExecutable("autocomplete-npm-ci", "npm", autocompleteDirectory, "ci", "--no-audit", "--no-fund", "--omit=dev"));
}

var gateway = builder.AddProject<Projects.Gateway_Host>("gateway", launchProfileName: null)
    .WithHttpEndpoint(port: settings.GatewayPort, name: "http", isProxied: false)
    .WithHttpEndpoint(port: settings.GatewayH2cPort, name: "h2c", isProxied: false)
    .WithEnvironment("Kestrel__Endpoints__http__Url", settings.GatewayUrl)
    .WithEnvironment("Kestrel__Endpoints__h2c__Url", settings.GatewayH2cUrl)
    // Socket completions run inline: the gateway never blocks on a request path (docs/benchmarks.md).
    .WithEnvironment("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1")
    .WithHttpHealthCheck("/health/ready", endpointName: "http")
    .WithEnvironment("ConnectionStrings__store", settings.StoreConnectionString).WaitFor(store)
    .WithEnvironment("Portico__ServiceIdentity__ClientSecret", gatewaySecret)
    .WithReference(catalogA).WaitFor(catalogA)
    .WithReference(catalogB).WaitFor(catalogB)
    .WithReference(weather).WaitFor(weather)
    .WithReference(identity).WaitFor(identity)
    .WithReference(ordering).WaitFor(ordering)
    .WithReference(loyalty).WaitFor(loyalty)
    .WithReference(reporting).WaitFor(reporting)
    // Async jobs: job status in the store; requests and results over the same broker as Reporting's.
    .WithEnvironment(context =>
    {
        if (builder.Configuration["ConnectionStrings:broker"] is { Length: > 0 } gatewayBroker)
        {
            context.EnvironmentVariables["ConnectionStrings__broker"] = gatewayBroker;
        }
    })
    .WithReference(autocomplete.GetEndpoint("http")).WaitFor(autocomplete);
// The gateway consumes ProductChanged.v1 (cache purge) from the broker the services publish to.
if (builder.Configuration["ConnectionStrings:broker"] is { Length: > 0 } gatewayBroker)
{
    gateway.WithEnvironment("ConnectionStrings__broker", gatewayBroker);
}

builder.Build().Run();
