using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests;

public sealed class LimitsTests
{
    [Fact]
    public async Task OversizedBody_Gets413ProblemJson_AndNeverReachesTheService()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapPost("/upload/it", async (HttpRequest r) =>
        {
            await r.Body.CopyToAsync(Stream.Null);
            return Results.Ok();
        }));
        var config = GatewayJson.Create([("upload", "/upload/{**rest}", "svc")], [("svc", [backend.Address])], maxBodySize: 1024);
        await using var gateway = await GatewayTestHost.StartAsync(config);

        using var small = await gateway.Client.PostAsync("/upload/it", new ByteArrayContent(new byte[1000]), TestContext.Current.CancellationToken);
        using var large = await gateway.Client.PostAsync("/upload/it", new ByteArrayContent(new byte[1025]), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, large.StatusCode);
        Assert.Equal("application/problem+json", large.Content.Headers.ContentType?.MediaType);
        Assert.Equal(1, backend.RequestCount);
    }

    [Fact]
    public async Task BodyOverServerDefault_Gets413_WhenRouteSetsNoLimit()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapPost("/upload/it", () => Results.Ok()));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("upload", backend.Address),
            new Dictionary<string, string?> { ["Portico:Limits:MaxRequestBodySize"] = "2048" });

        using var large = await gateway.Client.PostAsync("/upload/it", new ByteArrayContent(new byte[4096]), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, large.StatusCode);
        Assert.Equal(0, backend.RequestCount);
    }

    [Fact]
    public async Task OversizedHeaders_Get431_AndNeverReachTheService()
    {
        await using var backend = await TestBackend.StartAsync("svc", app => app.MapGet("/svc/x", () => "ok"));
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("svc", backend.Address));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/svc/x");
        request.Headers.Add("X-Big", new string('a', 40 * 1024));
        using var response = await gateway.Client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
        Assert.Equal(0, backend.RequestCount);
    }
}
