using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests;

/// <summary>
/// A cluster's <c>HttpRequest.ActivityTimeout</c> bounds idleness, not duration: YARP restarts it on every read or
/// write of either body, so a slow but steady upload longer than the timeout succeeds, and one that stops does not.
/// </summary>
public sealed class ActivityTimeoutTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SteadyUploadLongerThanTheActivityTimeout_Succeeds()
    {
        await using var backend = await TestBackend.StartAsync("upload", app => app.MapPost("/up/count", async (HttpRequest request) =>
        {
            var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer);
            return Results.Text(buffer.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }), Ct);
        await using var gateway = await GatewayTestHost.StartAsync(WithActivityTimeout(GatewayJson.Single("up", backend.Address), "00:00:00.400"));

        // 12 chunks 100 ms apart: 1.2 s of upload, never idle for 0.4 s.
        using var response = await gateway.Client.PostAsync("/up/count", new PacedContent(12, TimeSpan.FromMilliseconds(100)), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("1200", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task UpstreamSilentLongerThanTheActivityTimeout_IsGatewayTimeout()
    {
        await using var upstream = new ScriptedUpstream(_ => Reply.Silence);
        await using var gateway = await GatewayTestHost.StartAsync(WithActivityTimeout(GatewayJson.Single("up", upstream.Address), "00:00:00.400"));

        using var response = await gateway.Client.PostAsync("/up/order", new StringContent("x"), Ct);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal(1, upstream.Requests);
    }

    private static string WithActivityTimeout(string json, string timeout)
    {
        var node = JsonNode.Parse(json)!;
        node["ReverseProxy"]!["Clusters"]!["up"]!["HttpRequest"] = new JsonObject { ["ActivityTimeout"] = timeout };
        return node.ToJsonString();
    }

    /// <summary>Writes 100-byte chunks with a pause before each, as a slow client on a steady line does.</summary>
    private sealed class PacedContent(int chunks, TimeSpan pause) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            for (var i = 0; i < chunks; i++)
            {
                await Task.Delay(pause, cancellationToken);
                await stream.WriteAsync(new byte[100], cancellationToken);
                await stream.FlushAsync(cancellationToken);
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
