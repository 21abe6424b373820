using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Portico.Gateway.Routing;
using Portico.Gateway.Security;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace Portico.Gateway.Benchmarks;

/// <summary>Portico's steps in the proxy pipeline and the answers the gateway writes itself.</summary>
[MemoryDiagnoser]
public class RoutingBenchmarks
{
    private static readonly Func<Task> Next = static () => Task.CompletedTask;
    private static readonly RequestDelegate Done = static _ => Task.CompletedTask;

    private readonly RequestBodyLimit _bodyLimit = new(Options.Create(new KestrelServerOptions()));
    private readonly SecurityHeadersMiddleware _securityHeaders = new(Done);
    private ServiceProvider _services = null!;
    private DefaultHttpContext _get = null!;
    private DefaultHttpContext _post = null!;

    [GlobalSetup]
    public void Setup()
    {
        _services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var route = new RouteModel(new RouteConfig { RouteId = "products", ClusterId = "catalog", MaxRequestBodySize = 1024 * 1024 },
            cluster: null, HttpTransformer.Default);
        _get = NewContext(HttpMethods.Get, route, contentLength: null);
        _post = NewContext(HttpMethods.Post, route, contentLength: 512);
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    private DefaultHttpContext NewContext(string method, RouteModel route, long? contentLength)
    {
        var context = new DefaultHttpContext { RequestServices = _services };
        context.Request.Method = method;
        context.Request.Path = "/api/products/42";
        context.Request.ContentLength = contentLength;
        context.Features.Set<IReverseProxyFeature>(new ProxyFeature(route));
        return context;
    }

    [Benchmark(Description = "body limit: no body")]
    public Task BodyLimit_NoBody() => _bodyLimit.InvokeAsync(_get, Next);

    [Benchmark(Description = "body limit: declared length under the route's limit")]
    public Task BodyLimit_UnderLimit() => _bodyLimit.InvokeAsync(_post, Next);

    [Benchmark(Description = "hardening headers")]
    public Task SecurityHeaders() => _securityHeaders.InvokeAsync(_get);

    /// <summary>A problem+json answer (404 No route, 413, 502…), written to a fresh response each time.</summary>
    [Benchmark(Description = "problem+json answer")]
    public ValueTask Problem()
    {
        var context = new DefaultHttpContext { RequestServices = _services };
        context.Response.Body = Stream.Null;
        return GatewayProblems.WriteAsync(context, StatusCodes.Status404NotFound, "No route", "No route matches GET /nowhere.");
    }

    private sealed class ProxyFeature(RouteModel route) : IReverseProxyFeature
    {
        public RouteModel Route { get; } = route;
        public ClusterModel Cluster { get; set; } = null!;
        public IReadOnlyList<DestinationState> AllDestinations { get; set; } = [];
        public IReadOnlyList<DestinationState> AvailableDestinations { get; set; } = [];
        public DestinationState? ProxiedDestination { get; set; }
    }
}
