using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Portico.Catalog.Infrastructure;
using Portico.Catalog.Model;
using Portico.Tests.Common;

namespace Portico.Catalog.Tests;

/// <summary>
/// Catalog keeps stock from order events, on the embedded store: all lines or none, each order once whatever the
/// number of deliveries, and cancels put back only what was taken, whatever the order of arrival.
/// </summary>
/// <remarks>The tests share one Catalog and store; each uses products of its own.</remarks>
public abstract class StockEventsTests(StockEventsTests.Fixture fixture)
{
    private readonly CatalogPeer _peer = fixture.Peer;
    private readonly DatabaseEngine _engine = fixture.Engine;

    public class Fixture : IAsyncLifetime
    {
        public CatalogPeer Peer { get; private set; } = null!;

        public virtual DatabaseEngine Engine => DatabaseEngine.Sqlite;

        public async ValueTask InitializeAsync()
        {
            // Where PostgreSQL is not configured nothing starts, and the tests skip (PostgresTestDatabase.Required).
            if (ServiceTestDatabase.IsAvailable(Engine))
            {
                Peer = await CatalogPeer.StartAsync(engine: Engine);
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Peer is not null)
            {
                await Peer.DisposeAsync();
            }
        }
    }

    /// <summary>The same with Catalog's database on PostgreSQL.</summary>
    public sealed class PostgresFixture : Fixture
    {
        public override DatabaseEngine Engine => DatabaseEngine.Postgres;
    }

    [Fact]
    public async Task Fixture_RunsCatalogOnItsEngine()
    {
        await using var scope = _peer.Catalog.Services.CreateAsyncScope();

        Assert.Equal(ServiceTestDatabase.ProviderName(_engine), scope.ServiceProvider.GetRequiredService<CatalogDbContext>().Database.ProviderName);
    }

    [Fact]
    public async Task OrderPlaced_ThenOrderCancelled_TakesEveryLine_ThenRestoresStockExactly()
    {
        var (keyboards, mice) = (await _peer.StockOfAsync(3), await _peer.StockOfAsync(4));
        var order = Guid.NewGuid();

        await _peer.PublishAsync(CatalogPeer.Placed(order, (3, 2), (4, 5)), Guid.NewGuid());
        await Poll.UntilAsync(async () => await _peer.StockOfAsync(3) == keyboards - 2, "the stock of product 3 to go down");
        Assert.Equal(mice - 5, await _peer.StockOfAsync(4));

        var cancel = Guid.NewGuid();
        await _peer.PublishAsync(CatalogPeer.Cancelled(order), cancel);
        await Poll.UntilAsync(() => _peer.HandledAsync(cancel), "the cancel to be handled");

        Assert.Equal((keyboards, mice), (await _peer.StockOfAsync(3), await _peer.StockOfAsync(4)));
        Assert.Equal(StockReservationStatus.Released, (await ReservationAsync(order))!.Status);
    }

    [Fact]
    public async Task OrderPlaced_OneLineShort_TakesNothing_AndPublishesStockRejectedNamingTheShortProduct()
    {
        var (lamps, desks) = (await _peer.StockOfAsync(20), await _peer.StockOfAsync(22));
        var order = Guid.NewGuid();

        await _peer.PublishAsync(CatalogPeer.Placed(order, (20, 1), (22, desks + 1)), Guid.NewGuid());
        await Poll.UntilAsync(() => _peer.Rejected.ContainsKey(order), "StockRejected for the order");

        Assert.Equal([22], _peer.Rejected[order].ProductIds);
        Assert.Equal((lamps, desks), (await _peer.StockOfAsync(20), await _peer.StockOfAsync(22)));
        Assert.Equal(StockReservationStatus.Rejected, (await ReservationAsync(order))!.Status);

        // Its cancel (Ordering cancels the rejected order) puts back nothing: nothing was taken.
        var cancel = Guid.NewGuid();
        await _peer.PublishAsync(CatalogPeer.Cancelled(order), cancel);
        await Poll.UntilAsync(() => _peer.HandledAsync(cancel), "the cancel to be handled");
        Assert.Equal((lamps, desks), (await _peer.StockOfAsync(20), await _peer.StockOfAsync(22)));
    }

    [Fact]
    public async Task OrderPlaced_UnknownProduct_IsRejectedLikeAShortOne()
    {
        var order = Guid.NewGuid();

        await _peer.PublishAsync(CatalogPeer.Placed(order, (5, 1), (987_654, 1)), Guid.NewGuid());

        await Poll.UntilAsync(() => _peer.Rejected.ContainsKey(order), "StockRejected for the order");
        Assert.Equal([987_654], _peer.Rejected[order].ProductIds);
    }

    [Fact]
    public async Task OrderCancelled_BeforeItsPlacement_LeavesStockUnchanged_AndThePlacementTakesNothing()
    {
        var stock = await _peer.StockOfAsync(8);
        var order = Guid.NewGuid();

        await _peer.PublishAsync(CatalogPeer.Cancelled(order), Guid.NewGuid());
        await _peer.PublishAsync(CatalogPeer.Placed(order, (8, 3)), Guid.NewGuid());
        await _peer.DrainAsync();

        Assert.Equal(stock, await _peer.StockOfAsync(8));
        Assert.Equal(StockReservationStatus.CancelledBeforePlacement, (await ReservationAsync(order))!.Status);
        Assert.False(_peer.Rejected.ContainsKey(order));
    }

    [Fact]
    public async Task OrderPlaced_DeliveredTwice_AndRepublishedUnderANewId_TakesStockOnce()
    {
        var stock = await _peer.StockOfAsync(13);
        var order = Guid.NewGuid();
        var messageId = Guid.NewGuid();
        var placed = CatalogPeer.Placed(order, (13, 4));

        await _peer.PublishAsync(placed, messageId);
        await _peer.PublishAsync(placed, messageId); // the same message again, as a redelivery brings it
        await _peer.PublishAsync(placed, Guid.NewGuid()); // the same order under another id (e.g. a second relay)
        await _peer.DrainAsync();

        Assert.Equal(stock - 4, await _peer.StockOfAsync(13));
    }

    [Fact]
    public async Task OrderCancelled_DeliveredTwice_PutsBackOnce()
    {
        var stock = await _peer.StockOfAsync(15);
        var order = Guid.NewGuid();
        await _peer.PublishAsync(CatalogPeer.Placed(order, (15, 7)), Guid.NewGuid());
        var cancel = CatalogPeer.Cancelled(order);
        var cancelId = Guid.NewGuid();

        await _peer.PublishAsync(cancel, cancelId);
        await _peer.PublishAsync(cancel, cancelId);
        await _peer.PublishAsync(cancel, Guid.NewGuid());
        await _peer.DrainAsync();

        Assert.Equal(stock, await _peer.StockOfAsync(15));
    }

    [Fact]
    public async Task ManyOrdersOfOneProduct_TakeExactlyWhatTheyAsk_AndTheOneThatNoLongerFitsIsRejected()
    {
        var stock = await _peer.StockOfAsync(21);
        var orders = Enumerable.Range(0, stock + 1).Select(_ => Guid.NewGuid()).ToList();

        await Task.WhenAll(orders.Select(o => _peer.PublishAsync(CatalogPeer.Placed(o, (21, 1)), Guid.NewGuid())));
        await Poll.UntilAsync(() => orders.Any(_peer.Rejected.ContainsKey), "one order to be rejected");
        await _peer.DrainAsync();

        Assert.Equal(0, await _peer.StockOfAsync(21));
        Assert.Single(orders, _peer.Rejected.ContainsKey);
    }

    private async Task<StockReservation?> ReservationAsync(Guid orderId)
    {
        await using var scope = _peer.Catalog.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<CatalogDbContext>().StockReservations.AsNoTracking().SingleOrDefaultAsync(r => r.OrderId == orderId);
    }
}

public sealed class StockEventsTestsOnSqlite(StockEventsTests.Fixture fixture) : StockEventsTests(fixture), IClassFixture<StockEventsTests.Fixture>;

public sealed class StockEventsTestsOnPostgres(StockEventsTests.PostgresFixture fixture) : StockEventsTests(PostgresTestDatabase.Required(fixture)), IClassFixture<StockEventsTests.PostgresFixture>;
