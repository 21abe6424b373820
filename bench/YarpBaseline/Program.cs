using Yarp.ReverseProxy.Configuration;

// Bare YARP with the same routes and the same two-destination cluster as the Portico bench config, and
// nothing else: no health checks, telemetry, request ids or access log. Backend addresses come from
// --Bench:Backends=http://127.0.0.1:A,http://127.0.0.1:B; listen addresses from --urls.
var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();

var backends = (builder.Configuration["Bench:Backends"] ?? "http://127.0.0.1:5000").Split(',', StringSplitOptions.RemoveEmptyEntries);
var destinations = backends.Select((address, i) => (Id: $"backend-{i}", Config: new DestinationConfig { Address = address }))
    .ToDictionary(d => d.Id, d => d.Config);

RouteConfig Route(string path) => new()
{
    RouteId = path.Trim('/'),
    ClusterId = "backend",
    Match = new RouteMatch { Path = path, Methods = ["GET", "HEAD"] },
};

builder.Services.AddReverseProxy().LoadFromMemory(
    [Route("/hello"), Route("/kb"), Route("/slow")],
    [new ClusterConfig { ClusterId = "backend", LoadBalancingPolicy = "PowerOfTwoChoices", Destinations = destinations }]);

var app = builder.Build();
app.MapReverseProxy();
app.Run();
