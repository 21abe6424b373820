using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Portico.Gateway.Jobs;
using Portico.Gateway.Store;

namespace Portico.Gateway.Tests.Jobs;

/// <summary>
/// Job routes on a real gateway over the embedded store: 202 with the status URL and Retry-After, the caller's
/// identity and checked parameters sent to the in-queue, status for the owner only, idempotency per user, cancel of
/// a queued job, and a 400 naming the field, with no job made, for bad input.
/// </summary>
public sealed class JobsApiTests : IAsyncLifetime
{
    private JobsTestEnvironment _env = null!;

    public async ValueTask InitializeAsync() => _env = await JobsTestEnvironment.StartAsync();

    public async ValueTask DisposeAsync() => await _env.DisposeAsync();

    [Fact]
    public async Task Submit_Is202WithLocationAndRetryAfter_AndTheWorkerGetsTheCallerAndCheckedParameters()
    {
        using var admin = _env.ClientFor("ann", "admin", "user");

        var response = await admin.PostAsync("/api/test/shop", JsonContent.Create(new { from = "2025-01-01" }), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var location = response.Headers.Location!.ToString();
        Assert.StartsWith("/api/jobs/", location, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        var request = await _env.NextRequestAsync();
        Assert.Equal(location, $"/api/jobs/{request.JobId:D}");
        Assert.Equal("shop", request.Job);
        Assert.Equal(1, request.Attempt);
        Assert.Equal("ann", request.UserId);
        Assert.Equal(["admin", "user"], request.Roles.Order());
        Assert.Equal("jobs.test.out", request.ReplyTo);
        Assert.Equal("""{"from":"2025-01-01","groupBy":"day"}""", request.Parameters.GetRawText()); // the default filled in
        var status = await JobsTestEnvironment.StatusAsync(admin, location);
        Assert.Equal("queued", status.GetProperty("status").GetString());
        Assert.Equal(1, status.GetProperty("attempts").GetInt32());
    }

    [Fact]
    public async Task Status_IsTheOwnersOnly_AnyoneElseGets404()
    {
        using var owner = _env.ClientFor("olga");
        using var other = _env.ClientFor("oscar");
        using var admin = _env.ClientFor("root", "admin");
        using var anonymous = _env.Anonymous();
        var location = (await owner.PostAsync("/api/test/mine", null, TestContext.Current.CancellationToken)).Headers.Location!.ToString();

        Assert.Equal(HttpStatusCode.OK, (await owner.GetAsync(location, TestContext.Current.CancellationToken)).StatusCode);
        var foreign = await other.GetAsync(location, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        Assert.Equal("application/problem+json", foreign.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync(location, TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.DeleteAsync(location, TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await owner.GetAsync($"/api/jobs/{Guid.NewGuid()}", TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(location, TestContext.Current.CancellationToken)).StatusCode);
    }

    [Theory]
    [InlineData("""{"from":"2025-02-30"}""", "from")]
    [InlineData("""{"from":"2025-02-02","to":"2025-02-01"}""", "to")]
    [InlineData("""{"since":"2025-02-01"}""", "since")]
    [InlineData("""["2025-02-01"]""", "body")]
    [InlineData("""{"from":""", "body")]
    [InlineData("""{"from":20250201}""", "from")]
    public async Task BadInput_Is400NamingTheField_AndMakesNoJob(string body, string field)
    {
        using var user = _env.ClientFor("bea");

        var response = await user.PostAsync("/api/test/mine", new StringContent(body, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        await AssertBadRequestAsync(response, field);
        await AssertOnlyTheNextJobIsMadeAsync(user);
    }

    [Theory]
    [InlineData("""{}""", "from")]                                        // required
    [InlineData("""{"from":"2025-01-01","groupBy":"week"}""", "groupBy")] // not one of the values
    [InlineData("""{"from":"2025-01-01","top":0}""", "top")]              // below Min
    public async Task BadInput_OnTheAdminJob_Is400NamingTheField(string body, string field)
    {
        using var admin = _env.ClientFor("ann", "admin");

        var response = await admin.PostAsync("/api/test/shop", new StringContent(body, Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);

        await AssertBadRequestAsync(response, field);
        await AssertOnlyTheNextJobIsMadeAsync(admin);
    }

    [Fact]
    public async Task BadIdempotencyKey_Is400NamingTheHeader_AndMakesNoJob()
    {
        using var user = _env.ClientFor("bea");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/test/mine");
        request.Headers.TryAddWithoutValidation("Idempotency-Key", new string('k', 101));

        await AssertBadRequestAsync(await user.SendAsync(request, TestContext.Current.CancellationToken), "Idempotency-Key");
        await AssertOnlyTheNextJobIsMadeAsync(user);
    }

    [Fact]
    public async Task AdminJob_IsForbiddenToOtherUsers()
    {
        using var user = _env.ClientFor("bea");

        var response = await user.PostAsync("/api/test/shop", JsonContent.Create(new { from = "2025-01-01" }), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        await AssertOnlyTheNextJobIsMadeAsync(user);
    }

    [Fact]
    public async Task IdempotencyKey_ReturnsTheSameJob_PerUser()
    {
        using var first = _env.ClientFor("ivy");
        using var second = _env.ClientFor("ian");

        var a = await SubmitAsync(first, "key-1", """{"from":"2025-01-01"}""");
        var again = await SubmitAsync(first, "key-1", """{"from":"2025-01-01"}""");
        var otherUser = await SubmitAsync(second, "key-1", """{"from":"2025-01-01"}""");
        var otherBody = await SubmitAsync(first, "key-1", """{"from":"2025-01-02"}""");

        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Equal(a.Headers.Location, again.Headers.Location);
        Assert.True(again.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(HttpStatusCode.Accepted, otherUser.StatusCode);
        Assert.NotEqual(a.Headers.Location, otherUser.Headers.Location);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, otherBody.StatusCode);
        // Two jobs, so two requests; the repeat sent nothing.
        var sent = new[] { await _env.NextRequestAsync(), await _env.NextRequestAsync() }.Select(r => r.UserId).Order();
        Assert.Equal(["ian", "ivy"], sent);
        Assert.Equal(2, await DueCountAsync());
    }

    [Fact]
    public async Task Delete_CancelsAQueuedJob_NotARunningOne_AndALateResultChangesNothing()
    {
        using var user = _env.ClientFor("cid");
        var queued = (await user.PostAsync("/api/test/mine", null, TestContext.Current.CancellationToken)).Headers.Location!.ToString();
        var queuedRequest = await _env.NextRequestAsync();
        var running = (await user.PostAsync("/api/test/mine", null, TestContext.Current.CancellationToken)).Headers.Location!.ToString();
        var runningRequest = await _env.NextRequestAsync();
        await _env.BeatAsync(runningRequest);
        await JobsTestEnvironment.WaitForAsync(user, running, s => s.GetProperty("status").GetString() == "running", "the job to run");

        Assert.Equal(HttpStatusCode.NoContent, (await user.DeleteAsync(queued, TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await user.DeleteAsync(queued, TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await user.DeleteAsync(running, TestContext.Current.CancellationToken)).StatusCode);

        // A worker that took the cancelled job anyway: its answer is too late.
        await _env.CompleteAsync(queuedRequest, new { late = true });
        await _env.CompleteAsync(runningRequest, new { total = 3 });
        await JobsTestEnvironment.WaitForAsync(user, running, s => s.GetProperty("status").GetString() == "succeeded", "the running job to succeed");
        var cancelled = await JobsTestEnvironment.StatusAsync(user, queued);
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        Assert.False(cancelled.TryGetProperty("result", out _));
    }

    private static async Task<HttpResponseMessage> SubmitAsync(HttpClient client, string key, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/test/mine") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", key);
        return await client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    private static async Task AssertBadRequestAsync(HttpResponseMessage response, string field)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"the problem names '{field}': {problem}");
    }

    /// <summary>After refused requests, a good one is the first (and only) job the store and the worker see.</summary>
    private async Task AssertOnlyTheNextJobIsMadeAsync(HttpClient client)
    {
        Assert.Equal(0, await DueCountAsync());
        var good = await client.PostAsync("/api/test/mine", null, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, good.StatusCode);
        var request = await _env.NextRequestAsync();
        Assert.Equal(good.Headers.Location!.ToString(), $"/api/jobs/{request.JobId:D}");
        Assert.Equal(1, await DueCountAsync());
    }

    private Task<long> DueCountAsync() =>
        _env.Gateway.Services.GetRequiredService<GatewayStore>().Database.SortedSetLengthAsync(_env.Options.KeyPrefix + ":due");
}
