extern alias CatalogService;

using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Portico.Ordering.Infrastructure;
using Portico.Tests.Common;
using CatalogDbContext = CatalogService::Portico.Catalog.Infrastructure.CatalogDbContext;
using static Portico.Ordering.Tests.OrderingHttp;

namespace Portico.Ordering.Tests;

public sealed class IdempotencyTestsOnSqlite(OrderingFixture fixture) : IdempotencyTests(fixture), IClassFixture<OrderingFixture>;

public sealed class IdempotencyTestsOnPostgres(PostgresOrderingFixture fixture) : IdempotencyTests(PostgresTestDatabase.Required(fixture)), IClassFixture<PostgresOrderingFixture>;

public abstract class IdempotencyTests(OrderingFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Fixture_RunsOrderingAndCatalogOnItsEngine()
    {
        await using var ordering = fixture.App.Services.CreateAsyncScope();
        await using var catalog = fixture.CatalogServices!.CreateAsyncScope();

        Assert.Equal(ServiceTestDatabase.ProviderName(fixture.Engine), ordering.ServiceProvider.GetRequiredService<OrderingDbContext>().Database.ProviderName);
        Assert.Equal(ServiceTestDatabase.ProviderName(fixture.Engine), catalog.ServiceProvider.GetRequiredService<CatalogDbContext>().Database.ProviderName);
    }

    [Fact]
    public async Task Retry_WithTheSameKeyAndBody_ReplaysTheFirstAnswerAndCreatesNothing()
    {
        var user = OrderingFixture.NewUserId();
        using var client = fixture.ClientFor(user);
        var key = Guid.NewGuid().ToString();
        var body = OrderBody((1, 2), (3, 1));

        using var first = await client.PostOrderAsync(body, key);
        using var retry = await client.PostOrderAsync(body, key);

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal(first.Headers.Location, retry.Headers.Location);
        Assert.Equal(await first.Content.ReadAsStringAsync(Ct), await retry.Content.ReadAsStringAsync(Ct));
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(["true"], retry.Headers.GetValues("Idempotent-Replayed"));
        var rows = await fixture.RowsOfAsync(user);
        Assert.Single(rows.Orders);
        Assert.Single(rows.Outbox);
        Assert.Single(rows.IdempotencyRecords);
    }

    [Fact]
    public async Task Retry_AfterTheOrderWasCancelled_AnswersWithTheCancelledOrder()
    {
        // Issue 26, failure 1: a replay must not report a cancelled order as placed.
        var user = OrderingFixture.NewUserId();
        using var client = fixture.ClientFor(user);
        var key = Guid.NewGuid().ToString();
        using var first = await client.PostOrderAsync(OrderBody((2, 1)), key);
        var order = (await first.Content.ReadFromJsonAsync<OrderDto>(Web, Ct))!;
        (await client.PostAsync($"api/orders/{order.Id}/cancel", null, Ct)).Dispose();

        using var retry = await client.PostOrderAsync(OrderBody((2, 1)), key);

        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal(["true"], retry.Headers.GetValues("Idempotent-Replayed"));
        Assert.Equal(first.Headers.Location, retry.Headers.Location);
        var replayed = (await retry.Content.ReadFromJsonAsync<OrderDto>(Web, Ct))!;
        Assert.Equal((order.Id, "Cancelled", order.Total), (replayed.Id, replayed.Status, replayed.Total));
        Assert.Single((await fixture.RowsOfAsync(user)).Orders);
    }

    [Fact]
    public async Task Retry_WithTheSameLinesInAnotherOrderAndSpacing_IsTheSameRequest()
    {
        var user = OrderingFixture.NewUserId();
        using var client = fixture.ClientFor(user);
        var key = Guid.NewGuid().ToString();

        using var first = await client.PostOrderAsync("""{"items":[{"productId":1,"quantity":2},{"productId":3,"quantity":1}]}""", key);
        using var retry = await client.PostOrderAsync("""{ "items": [ { "quantity": 1, "productId": 3 }, { "productId": 1, "quantity": 2 } ] }""", key);

        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal(first.Headers.Location, retry.Headers.Location);
        Assert.Single((await fixture.RowsOfAsync(user)).Orders);
    }

    [Fact]
    public async Task SameKey_WithAnotherBody_Is422AndCreatesNothing()
    {
        var user = OrderingFixture.NewUserId();
        using var client = fixture.ClientFor(user);
        var key = Guid.NewGuid().ToString();
        using var first = await client.PostOrderAsync(OrderBody((1, 2)), key);

        using var other = await client.PostOrderAsync(OrderBody((1, 3)), key);

        var problem = await other.ReadProblemAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Contains("Idempotency-Key", problem.Detail, StringComparison.Ordinal);
        Assert.Single((await fixture.RowsOfAsync(user)).Orders);
    }

    [Fact]
    public async Task SameKey_FromAnotherUser_IsAnotherOrder()
    {
        var key = Guid.NewGuid().ToString();
        using var alice = fixture.ClientFor(OrderingFixture.NewUserId());
        using var bob = fixture.ClientFor(OrderingFixture.NewUserId());

        using var first = await alice.PostOrderAsync(OrderBody((1, 1)), key);
        using var second = await bob.PostOrderAsync(OrderBody((1, 1)), key);

        Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        Assert.NotEqual(first.Headers.Location, second.Headers.Location);
        Assert.False(second.Headers.Contains("Idempotent-Replayed"));
    }

    [Fact]
    public async Task ConcurrentDuplicates_WithOneKey_CreateOneOrder()
    {
        var user = OrderingFixture.NewUserId();
        using var client = fixture.ClientFor(user);
        var key = Guid.NewGuid().ToString();
        var body = OrderBody((4, 1), (5, 2));

        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => Task.Run(() => client.PostOrderAsync(body, key), Ct)));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        Assert.Single(responses.Select(r => r.Headers.Location).Distinct());
        Assert.Single((await Task.WhenAll(responses.Select(r => r.Content.ReadAsStringAsync(Ct)))).Distinct());
        Assert.Single(responses, r => !r.Headers.Contains("Idempotent-Replayed"));
        var rows = await fixture.RowsOfAsync(user);
        Assert.Single(rows.Orders);
        Assert.Single(rows.Outbox);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task ConcurrentRequests_WithOneKeyButDifferentBodies_CreateOneOrderAndRefuseTheOthers()
    {
        var user = OrderingFixture.NewUserId();
        using var client = fixture.ClientFor(user);
        var key = Guid.NewGuid().ToString();

        var responses = await Task.WhenAll(Enumerable.Range(1, 8).Select(q => Task.Run(() => client.PostOrderAsync(OrderBody((6, q)), key), Ct)));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        Assert.All(responses.Where(r => r.StatusCode != HttpStatusCode.Created), r => Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode));
        Assert.Single((await fixture.RowsOfAsync(user)).Orders);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("tab\tinside")]
    public async Task MalformedKey_Is400NamingTheHeaderAndCreatesNothing(string key)
    {
        var user = OrderingFixture.NewUserId();
        using var client = fixture.ClientFor(user);

        using var response = await client.PostOrderAsync(OrderBody((1, 1)), key);

        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        Assert.Contains("Idempotency-Key", problem.Errors!.Keys);
        Assert.True((await fixture.RowsOfAsync(user)).IsEmpty);
    }

    [Fact]
    public async Task Key_Of101Characters_Is400_AndOf100IsAccepted()
    {
        using var client = fixture.ClientFor(OrderingFixture.NewUserId());

        using var tooLong = await client.PostOrderAsync(OrderBody((1, 1)), new string('k', 101));
        using var longest = await client.PostOrderAsync(OrderBody((1, 1)), new string('k', 100));

        Assert.Contains("Idempotency-Key", (await tooLong.ReadProblemAsync(HttpStatusCode.BadRequest)).Errors!.Keys);
        Assert.Equal(HttpStatusCode.Created, longest.StatusCode);
    }

    [Fact]
    public async Task TwoKeyHeaders_Are400()
    {
        using var client = fixture.ClientFor(OrderingFixture.NewUserId());
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/orders") { Content = JsonContent.Create(new { items = new[] { new { productId = 1, quantity = 1 } } }) };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", ["a", "b"]);

        using var response = await client.SendAsync(request, Ct);

        await response.ReadProblemAsync(HttpStatusCode.BadRequest);
    }
}
