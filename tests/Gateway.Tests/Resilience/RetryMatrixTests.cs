using System.Net;
using System.Text;

namespace Portico.Gateway.Tests.Resilience;

/// <summary>
/// How often an upstream runs one request when it fails after receiving it: method × body × <c>Idempotency-Key</c>
/// × a clean close, a reset or silence. RFC 9110 §9.2.2: only idempotent requests may be sent again automatically,
/// so a POST or PATCH without a key runs at most once, whoever would retry it (the resilience step, or
/// SocketsHttpHandler's own retry of a connection closed before any answer byte), and the client is told that it
/// may or may not have been applied.
/// </summary>
public sealed class RetryMatrixTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly object Policy = new
    {
        AttemptTimeout = "00:00:00.300",
        Retry = new { MaxRetries = 2, BaseDelay = "00:00:00.001", MaxDelay = "00:00:00.001" },
        CircuitBreaker = new { Enabled = false },
    };

    public static TheoryData<string, bool, bool, string> Matrix()
    {
        var data = new TheoryData<string, bool, bool, string>();
        foreach (var failure in new[] { "close", "reset", "silence" })
        {
            foreach (var method in new[] { "GET", "DELETE", "PUT", "POST", "PATCH" })
            {
                foreach (var body in method is "GET" or "DELETE" ? new[] { false } : [false, true])
                {
                    foreach (var key in method is "POST" or "PATCH" ? new[] { false, true } : [false])
                    {
                        data.Add(method, body, key, failure);
                    }
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task FailureAfterTheRequestArrived_RunsANonIdempotentRequestAtMostOnce(string method, bool body, bool key, string failure)
    {
        var reply = failure switch { "close" => Reply.Hangup, "reset" => Reply.ResetAfterRequest, _ => Reply.Silence };
        await using var first = new ScriptedUpstream(_ => reply);
        await using var second = new ScriptedUpstream(_ => reply);
        await using var gateway = await GatewayTestHost.StartAsync(ResilienceJson.Create("m", [first.Address, second.Address], Policy));

        using var request = new HttpRequestMessage(new HttpMethod(method), "/m/thing");
        if (body)
        {
            request.Content = new StringContent("{\"n\":1}", Encoding.UTF8, "application/json");
        }
        if (key)
        {
            request.Headers.Add("Idempotency-Key", "k-" + Guid.NewGuid().ToString("N"));
        }
        using var response = await gateway.Client.SendAsync(request, Ct);
        var problem = await response.Content.ReadAsStringAsync(Ct);

        var runs = first.Requests + second.Requests;
        var idempotent = method is "GET" or "DELETE" or "PUT" || key;
        Assert.Equal(failure == "silence" ? HttpStatusCode.GatewayTimeout : HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        if (idempotent)
        {
            Assert.True(runs > 1, $"an idempotent {method} is retried; it ran {runs} time(s)");
        }
        else
        {
            Assert.Equal(1, runs);
            Assert.Contains("may or may not have been applied", problem, StringComparison.Ordinal);
        }
    }
}
