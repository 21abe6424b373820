using System.Net;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;

namespace Portico.Loyalty.Tests;

/// <summary>What the host offers besides the ledger: reflection, the gRPC health service, and its two endpoints.</summary>
public sealed class GrpcHostTests(LoyaltyFixture fixture) : IClassFixture<LoyaltyFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Reflection_ListsTheLoyaltyServiceWithoutAToken()
    {
        var client = new ServerReflection.ServerReflectionClient(fixture.Channel);
        using var call = client.ServerReflectionInfo(cancellationToken: Ct);

        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" }, Ct);
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(Ct));

        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("loyalty.v1.Loyalty", services);
        Assert.Contains("grpc.health.v1.Health", services);
    }

    [Fact]
    public async Task Reflection_DescribesTheLoyaltyServiceWithItsHttpRules()
    {
        var client = new ServerReflection.ServerReflectionClient(fixture.Channel);
        using var call = client.ServerReflectionInfo(cancellationToken: Ct);

        await call.RequestStream.WriteAsync(new ServerReflectionRequest { FileContainingSymbol = "loyalty.v1.Loyalty" }, Ct);
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(Ct));

        var files = call.ResponseStream.Current.FileDescriptorResponse.FileDescriptorProto
            .Select(bytes => Google.Protobuf.Reflection.FileDescriptorProto.Parser.ParseFrom(bytes)).ToList();
        var loyalty = Assert.Single(files, f => f.Package == "loyalty.v1");
        var service = Assert.Single(loyalty.Service);
        Assert.Equal(["Accrue", "Revert", "GetBalance", "ListEntries"], service.Method.Select(m => m.Name));
        Assert.Contains("google/api/annotations.proto", loyalty.Dependency);
    }

    [Fact]
    public async Task HealthService_ReportsServingWithoutAToken()
    {
        var client = new Health.HealthClient(fixture.Channel);

        var reply = await client.CheckAsync(new HealthCheckRequest { Service = "" }, cancellationToken: Ct);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
    }

    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    [InlineData("/metrics")]
    public async Task HttpEndpoint_ServesProbesAndMetricsOverHttp11(string path)
    {
        using var http = new HttpClient { BaseAddress = fixture.App.HttpAddress };

        using var response = await http.GetAsync(path, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version11, response.Version);
    }

    [Fact]
    public async Task GrpcEndpoint_SpeaksOnlyHttp2()
    {
        using var http11 = new HttpClient { BaseAddress = fixture.App.GrpcAddress };
        using var http2 = new HttpClient { BaseAddress = fixture.App.GrpcAddress, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };

        using var refused = await http11.GetAsync("/health/live", Ct);
        using var served = await http2.GetAsync("/health/live", Ct);

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("HTTP/2 only endpoint", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal(HttpVersion.Version20, served.Version);
    }

    [Fact]
    public async Task GrpcCall_OnTheHttp11Endpoint_Fails()
    {
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(fixture.App.HttpAddress);
        var client = new Health.HealthClient(channel);

        var e = await Assert.ThrowsAsync<RpcException>(() => client.CheckAsync(new HealthCheckRequest(), cancellationToken: Ct).ResponseAsync);

        Assert.Contains(e.StatusCode, new[] { StatusCode.Internal, StatusCode.Unavailable });
    }
}
