using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Portico.Gateway.Configuration;
using Portico.Gateway.Jobs;
using Portico.Messaging;
using Portico.Tests.Common;

namespace Portico.Gateway.Tests.Jobs;

/// <summary>
/// Jobs cost nothing where they are not configured (no messaging, no sweeper, no endpoints); job routes are checked
/// at start with every error listed; and jobs combine with another feature that registers messaging too.
/// </summary>
public sealed class JobsLoadingTests
{
    [Fact]
    public async Task WithoutJobQueues_NothingOfJobsIsLoaded()
    {
        await using var gateway = await GatewayTestHost.StartAsync(GatewayJson.Single("other", new Uri("http://127.0.0.1:9")));

        Assert.Null(gateway.Services.GetService<IMessageBus>());
        Assert.Null(gateway.Services.GetService<JobStore>());
        Assert.DoesNotContain(gateway.Services.GetServices<IHostedService>(), s => s is JobSweeper);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/jobs/{Guid.NewGuid()}");
        request.Headers.Authorization = new("Bearer", gateway.Tokens.CreateToken("u"));
        Assert.Equal(HttpStatusCode.NotFound, (await gateway.Client.SendAsync(request, TestContext.Current.CancellationToken)).StatusCode);
    }

    [Fact]
    public async Task JobRoutes_WhileJobsAreOff_FailStartUp()
    {
        var error = await Assert.ThrowsAsync<GatewayConfigurationException>(() => GatewayTestHost.StartAsync(JobsTestEnvironment.GatewayJson));

        Assert.Contains(error.Errors, e => e.Contains("Job 'mine'", StringComparison.Ordinal) && e.Contains("jobs are off", StringComparison.Ordinal));
    }

    [Fact]
    public async Task InvalidJobRoutes_StartUpListsEveryError()
    {
        using var store = GarnetTestServer.Start();
        const string json = """
            {
              "ReverseProxy": { "Routes": {}, "Clusters": {} },
              "Portico": { "Jobs": {
                "a": { "Path": "/api/a", "Queue": "jobs.unknown" },
                "b": { "Path": "/api/b", "Queue": "jobs.test", "AuthorizationPolicy": "anonymous" },
                "c": { "Path": "/api/c", "Queue": "jobs.test", "Parameters": { "to": { "Type": "Date", "NotBefore": "from" } } },
                "d": { "Path": "/api/c", "Queue": "jobs.test", "Parameters": { "n": { "Type": "Integer", "Default": "x" } } }
              } }
            }
            """;

        var error = await Assert.ThrowsAsync<GatewayConfigurationException>(() =>
            JobsTestEnvironment.StartGatewayAsync(store.ConnectionString, new Uri("http://127.0.0.1:9/jwks"), null, json));

        Assert.Contains(error.Errors, e => e.StartsWith("Job 'a'", StringComparison.Ordinal) && e.Contains("jobs.unknown", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("Job 'b'", StringComparison.Ordinal) && e.Contains("anonymous", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("Job 'c' parameter 'to'", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("Job 'd' parameter 'n'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task InvalidHostSettings_FailStartUp()
    {
        using var store = GarnetTestServer.Start();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => JobsTestEnvironment.StartGatewayAsync(store.ConnectionString, new Uri("http://127.0.0.1:9/jwks"), null,
            JobsTestEnvironment.GatewayJson, new Dictionary<string, string?> { ["Portico:Jobs:MaxAttempts"] = "0", ["Portico:Jobs:StatusPath"] = "jobs/" }));

        Assert.Contains("Portico:Jobs:MaxAttempts", error.Message, StringComparison.Ordinal);
        Assert.Contains("Portico:Jobs:StatusPath", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StoreDown_SubmitIs503WithRetryAfter_NotA500()
    {
        var store = GarnetTestServer.Start();
        var tokens = new TestTokenIssuer();
        await using var identity = await TestBackend.StartAsync("identity", app => app.MapGet("/.well-known/jwks.json", () => Results.Text(tokens.JwksJson, "application/json")));
        var gateway = await JobsTestEnvironment.StartGatewayAsync(store.ConnectionString, new Uri(identity.Address, "/.well-known/jwks.json"), null, JobsTestEnvironment.GatewayJson);
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri(gateway.Urls.Single()) };
            client.DefaultRequestHeaders.Authorization = new("Bearer", tokens.CreateToken("sam"));
            store.Dispose();

            var response = await client.PostAsync("/api/test/mine", null, TestContext.Current.CancellationToken);

            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.NotNull(response.Headers.RetryAfter);
        }
        finally
        {
            await gateway.StopAsync();
            await gateway.DisposeAsync();
            store.Dispose();
        }
    }

    [Fact]
    public async Task MessagingRegisteredTwice_JobsStillWork_WithOneConsumerService()
    {
        await using var env = await JobsTestEnvironment.StartAsync();
        // A second gateway whose host adds Portico.Messaging itself as well (as another feature would).
        var gateway = await JobsTestEnvironment.StartGatewayAsync(env.Store.ConnectionString, env.JwksUrl, null, JobsTestEnvironment.GatewayJson,
            configure: builder => builder.AddPorticoMessaging());
        try
        {
            using var user = env.ClientFor(gateway, "mo");

            var response = await user.PostAsync("/api/test/mine", JsonContent.Create(new { }), TestContext.Current.CancellationToken);

            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var request = await env.NextRequestAsync();
            await env.CompleteAsync(request, new { ok = true });
            await JobsTestEnvironment.WaitForAsync(user, response.Headers.Location!.ToString(), s => s.GetProperty("status").GetString() == "succeeded", "the job to succeed");
            Assert.Single(gateway.Services.GetServices<IHostedService>(), s => s.GetType().Name == "MessageConsumerService");
        }
        finally
        {
            await gateway.StopAsync();
            await gateway.DisposeAsync();
        }
    }
}
