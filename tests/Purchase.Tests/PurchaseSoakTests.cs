using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Portico.Tests.Common;

namespace Portico.Purchase.Tests;

/// <summary>
/// Issue 26's soak: purchases through the real gateway's <c>POST /api/purchases</c> (the shipped composition) into real
/// Catalog, Ordering and Loyalty, while the gateway's calls to Ordering and to Loyalty's gRPC are cut or stalled at
/// random, the gateway is killed and started again twice, and clients send the same Idempotency-Key again at random
/// (also concurrently). At the end every key's outcome is settled, Loyalty's reconciler runs once, and for every order
/// points exist if and only if it is not cancelled, once; and what each client was told agrees with what happened.
/// <c>PORTICO_SOAK_PURCHASES</c> sets how many purchases (default 200, about a minute on two busy cores; the test script
/// runs the issue's 500), <c>PORTICO_SOAK_SEED</c> the random seed (printed, to replay a failing run's fault plan).
/// </summary>
public sealed class PurchaseSoakTests(ITestOutputHelper output)
{
    private const int DefaultPurchases = 200;
    private const int Concurrency = 8;
    private const int Users = 10;

    // Products with the deepest stock in Catalog's seed (150 to 600), one of each per line: no purchase runs out of
    // stock, so every cancellation here is the purchase's own doing.
    private static readonly int[] Products = [2, 4, 8, 13, 14, 15, 23, 26];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Answer(int Status, string? Title, string? OrderId, string? OrderStatus, bool Replayed, string Body);

    private sealed class Purchase(int number, string user, string key, object body)
    {
        public int Number { get; } = number;
        public string User { get; } = user;
        public string Key { get; } = key;
        public object Body { get; } = body;
        public ConcurrentQueue<Answer> Answers { get; } = new();
        public Answer? Final { get; set; }
    }

    private sealed class Counters
    {
        public int Requests;
        public int Retries;
        public int TransportErrors;
        public int Ok;
        public int Conflict;
        public int OtherClientError;
        public int ServerError;
        public int Cuts;
        public int Stalls;
    }

    [Fact]
    public async Task Purchases_UnderRandomFaultsAndGatewayRestarts_PointsExistIffTheOrderIsNotCancelled_Once()
    {
        var purchases = int.TryParse(Environment.GetEnvironmentVariable("PORTICO_SOAK_PURCHASES"), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : DefaultPurchases;
        var seed = int.TryParse(Environment.GetEnvironmentVariable("PORTICO_SOAK_SEED"), CultureInfo.InvariantCulture, out var s) ? s : Random.Shared.Next();
        output.WriteLine($"soak: {purchases} purchases, {Concurrency} clients, seed {seed}");
        var random = new Random(seed);
        var recoverAfter = Shop.ShippedRecoverAfter();

        await using var shop = await Shop.StartAsync();
        var tokens = Enumerable.Range(0, Users).Select(i => ("soak-user-" + i, shop.Tokens.CreateToken("soak-user-" + i, expires: DateTime.UtcNow.AddHours(1)))).ToArray();
        var plan = Enumerable.Range(0, purchases).Select(i =>
        {
            var (user, _) = tokens[random.Next(Users)];
            var lines = Products.OrderBy(_ => random.Next()).Take(random.Next(1, 3)).Select(p => new { productId = p, quantity = 1 }).ToArray();
            return new Purchase(i, user, Guid.NewGuid().ToString(), new { items = lines });
        }).ToArray();
        var tokenOf = tokens.ToDictionary(t => t.Item1, t => t.Item2);
        var counters = new Counters();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        async Task<Answer?> SendAsync(Purchase purchase)
        {
            var gateway = shop.Gateway;
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.Address, "api/purchases")) { Content = JsonContent.Create(purchase.Body) };
            request.Headers.Authorization = new("Bearer", tokenOf[purchase.User]);
            request.Headers.Add("Idempotency-Key", purchase.Key);
            Interlocked.Increment(ref counters.Requests);
            try
            {
                using var response = await http.SendAsync(request, Ct);
                var text = await response.Content.ReadAsStringAsync(Ct);
                var answer = Read((int)response.StatusCode, text, response.Headers.Contains("Idempotent-Replayed"));
                purchase.Answers.Enqueue(answer);
                if (answer.Status == 200)
                {
                    Interlocked.Increment(ref counters.Ok);
                }
                else if (answer.Status == 409)
                {
                    Interlocked.Increment(ref counters.Conflict);
                }
                else if (answer.Status >= 500)
                {
                    Interlocked.Increment(ref counters.ServerError);
                }
                else
                {
                    Interlocked.Increment(ref counters.OtherClientError);
                }
                return answer;
            }
            catch (Exception e) when (e is HttpRequestException or IOException || (e is TaskCanceledException && !Ct.IsCancellationRequested))
            {
                // The gateway died under the request, or is not up yet: the client does not know what happened.
                Interlocked.Increment(ref counters.TransportErrors);
                return null;
            }
        }

        // What a careful client does: send; when the outcome is not final yet (in progress, pending, no answer), send the
        // same key again a few times; and now and then send it again anyway, once more or twice at once.
        async Task RunAsync(Purchase purchase, Random rnd)
        {
            var sends = rnd.NextDouble() < 0.1 ? 2 : 1; // a double click: the same key twice at once
            var first = await Task.WhenAll(Enumerable.Range(0, sends).Select(_ => SendAsync(purchase)));
            Interlocked.Add(ref counters.Retries, sends - 1);
            var last = first.LastOrDefault(a => a is not null);
            for (var attempt = 0; attempt < 4 && !IsFinal(last); attempt++)
            {
                await Task.Delay(rnd.Next(100, 600), Ct);
                Interlocked.Increment(ref counters.Retries);
                last = await SendAsync(purchase) ?? last;
            }
            if (rnd.NextDouble() < 0.25)
            {
                Interlocked.Increment(ref counters.Retries);
                await SendAsync(purchase);
            }
        }

        var ordering = shop.OrderingProxy;
        var loyalty = shop.LoyaltyProxy;
        var started = 0;
        var done = 0;
        using var stopFaults = new CancellationTokenSource();
        var faults = InjectFaultsAsync(new Random(random.Next()), stopFaults.Token);
        var restarts = RestartGatewayTwiceAsync();

        var queue = new ConcurrentQueue<Purchase>(plan);
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async c =>
        {
            var rnd = new Random(seed + c);
            while (queue.TryDequeue(out var purchase))
            {
                Interlocked.Increment(ref started);
                await RunAsync(purchase, rnd);
                Interlocked.Increment(ref done);
            }
        }));
        await stopFaults.CancelAsync();
        await faults;
        await restarts;
        ordering.Resume();
        loyalty.Resume();
        output.WriteLine($"traffic done: {counters.Cuts} cuts, {counters.Stalls} stalls, {shop.GatewayStarts} gateway starts");

        // Settle: the running gateway's clock goes past RecoverAfter, so its worker (and any retry) takes over every run
        // still open; then each key is asked again until its kept answer comes back.
        shop.GatewayClock.Advance(recoverAfter + TimeSpan.FromSeconds(1));
        var settleDeadline = Deadline(TimeSpan.FromSeconds(60));
        foreach (var purchase in plan)
        {
            while (true)
            {
                var answer = await SendAsync(purchase);
                if (answer is { Replayed: true })
                {
                    purchase.Final = answer;
                    break;
                }
                Assert.True(TimeProvider.System.GetTimestamp() < settleDeadline,
                    $"Purchase {purchase.Number} (key {purchase.Key}) has no settled answer after a minute; last: {answer?.Status} {answer?.Body}");
                await Task.Delay(100, Ct);
            }
        }

        using var admin = shop.LoyaltyAdmin();
        using var reconcile = await admin.PostAsync("admin/reconcile?full=true", null, Ct);
        var report = await reconcile.Content.ReadAsStringAsync(Ct);
        output.WriteLine($"reconcile: {(int)reconcile.StatusCode} {report}");
        Assert.Equal(HttpStatusCode.OK, reconcile.StatusCode);

        // Cancellations reach Loyalty by events: poll until the two agree, or the deadline.
        List<string> mismatches = [];
        (Dictionary<Guid, OrderRow> Orders, List<EntryRow> Entries) state = default;
        var eventDeadline = Deadline(TimeSpan.FromSeconds(30));
        while (true)
        {
            state = (ReadOrders(shop.OrderingDb), ReadEntries(shop.LoyaltyDb));
            mismatches = Check(plan, state.Orders, state.Entries);
            if (mismatches.Count == 0 || TimeProvider.System.GetTimestamp() >= eventDeadline)
            {
                break;
            }
            await Task.Delay(200, Ct);
        }

        var finals = plan.Select(p => p.Final!).ToList();
        var summary = string.Join(Environment.NewLine,
        [
            $"purchases {purchases}; requests {counters.Requests} (retries {counters.Retries}); answers 200: {counters.Ok}, 409: {counters.Conflict}, other 4xx: {counters.OtherClientError}, 5xx: {counters.ServerError}; no answer (gateway down): {counters.TransportErrors}",
            $"settled outcomes: 200 {finals.Count(f => f.Status == 200)}, 409 {finals.Count(f => f.Status == 409)}, 5xx {finals.Count(f => f.Status >= 500)}, other {finals.Count(f => f.Status is not 200 and not 409 and < 500)}",
            $"faults: {counters.Cuts} cuts, {counters.Stalls} stalls, gateway killed and restarted {shop.GatewayStarts - 1} times",
            $"orders placed {state.Orders.Values.Count(o => o.Status == "Placed")}, cancelled {state.Orders.Values.Count(o => o.Status == "Cancelled")}; ledger accruals {state.Entries.Count(e => e.Kind == 1)}, reversals {state.Entries.Count(e => e.Kind == 2)}",
            $"mismatches {mismatches.Count}",
            .. mismatches.Take(50),
        ]);
        output.WriteLine(summary);
        // Also on the process's own output, where a passing run shows it too (the test output is shown for failures only).
        Console.WriteLine(summary);
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} mismatch(es):{Environment.NewLine}{string.Join(Environment.NewLine, mismatches)}");

        async Task InjectFaultsAsync(Random rnd, CancellationToken stop)
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    await Task.Delay(rnd.Next(200, 900), stop);
                    var proxy = rnd.Next(2) == 0 ? ordering : loyalty;
                    // Mostly short (within a step's budget: retried), now and then past it (compensated, or left pending).
                    var length = TimeSpan.FromMilliseconds(rnd.NextDouble() < 0.15 ? rnd.Next(4_000, 7_000) : rnd.Next(100, 1_500));
                    if (rnd.Next(2) == 0)
                    {
                        Interlocked.Increment(ref counters.Cuts);
                        await proxy.CutAsync(); // resets what is in flight (requests applied, replies lost) and refuses new calls
                        await Task.Delay(length, CancellationToken.None);
                        proxy.Open();
                    }
                    else
                    {
                        Interlocked.Increment(ref counters.Stalls);
                        proxy.Stall(); // holds requests and replies: attempt timeouts, then late deliveries
                        await Task.Delay(length, CancellationToken.None);
                        proxy.Resume();
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Traffic is over.
            }
        }

        async Task RestartGatewayTwiceAsync()
        {
            for (var k = 1; k <= 2; k++)
            {
                var at = purchases * k / 3;
                while (Volatile.Read(ref started) < at && Volatile.Read(ref done) < purchases)
                {
                    await Task.Delay(20, Ct);
                }
                // Each new gateway's clock is a RecoverAfter (and a second) ahead of the last one's, so what the dead one
                // left is due for it at once.
                await shop.RestartGatewayAsync((recoverAfter + TimeSpan.FromSeconds(1)) * k);
            }
        }
    }

    private static bool IsFinal(Answer? answer) => answer is not null && answer.Status != 409 && answer.Status < 500
        || answer is { Status: 409, Title: not "Request in progress" } || answer is { Replayed: true };

    private static long Deadline(TimeSpan within) => TimeProvider.System.GetTimestamp() + (long)(within.TotalSeconds * TimeProvider.System.TimestampFrequency);

    private static Answer Read(int status, string text, bool replayed)
    {
        string? title = null, orderId = null, orderStatus = null;
        try
        {
            using var json = JsonDocument.Parse(text);
            var root = json.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                title = root.TryGetProperty("title", out var t) ? t.GetString() : null;
                if (root.TryGetProperty("order", out var order) && order.ValueKind == JsonValueKind.Object)
                {
                    orderId = order.GetProperty("id").GetString();
                    orderStatus = order.GetProperty("status").GetString();
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: kept as text for the report.
        }
        return new Answer(status, title, orderId, orderStatus, replayed, text);
    }

    private sealed record OrderRow(Guid Id, string UserId, string Status, long Total, string? Key);

    private sealed record EntryRow(string OrderId, int Kind, long Points, long Amount);

    private static Dictionary<Guid, OrderRow> ReadOrders(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT o.Id, o.UserId, o.Status, o.Total, k.Key
            FROM Orders o LEFT JOIN IdempotencyKeys k ON k.OrderId = o.Id
            """;
        using var reader = command.ExecuteReader();
        var orders = new Dictionary<Guid, OrderRow>();
        while (reader.Read())
        {
            var id = Guid.Parse(reader.GetString(0));
            var row = new OrderRow(id, reader.GetString(1), reader.GetString(2), reader.GetInt64(3), reader.IsDBNull(4) ? null : reader.GetString(4));
            Assert.True(orders.TryAdd(id, row), $"Order {id} has two idempotency records.");
        }
        return orders;
    }

    private static List<EntryRow> ReadEntries(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT OrderId, Kind, Points, Amount FROM LedgerEntries";
        using var reader = command.ExecuteReader();
        var entries = new List<EntryRow>();
        while (reader.Read())
        {
            entries.Add(new EntryRow(reader.GetString(0), reader.GetInt32(1), reader.GetInt64(2), reader.GetInt64(3)));
        }
        return entries;
    }

    /// <summary>Every disagreement, one line each: between orders and points, and between what a client was told and what happened.</summary>
    private static List<string> Check(Purchase[] plan, Dictionary<Guid, OrderRow> orders, List<EntryRow> entries)
    {
        var mismatches = new List<string>();
        var byOrder = entries.GroupBy(e => Guid.TryParse(e.OrderId, out var g) ? g : Guid.Empty).ToDictionary(g => g.Key, g => g.ToList());

        foreach (var order in orders.Values)
        {
            var lines = byOrder.GetValueOrDefault(order.Id) ?? [];
            var accruals = lines.Where(e => e.Kind == 1).ToList();
            var reversals = lines.Where(e => e.Kind == 2).ToList();
            var net = lines.Sum(e => e.Points);
            var expected = order.Total / 100; // one point per 100 KRW
            if (order.Status == "Placed" && (accruals.Count != 1 || reversals.Count != 0 || net != expected))
            {
                mismatches.Add($"order {order.Id} (key {order.Key}) is Placed but has {accruals.Count} accrual(s), {reversals.Count} reversal(s), {net} points (expected {expected})");
            }
            else if (order.Status == "Cancelled" && net != 0)
            {
                mismatches.Add($"order {order.Id} (key {order.Key}) is Cancelled but keeps {net} points ({accruals.Count} accrual(s), {reversals.Count} reversal(s))");
            }
            if (accruals.Count == 1 && accruals[0].Amount != order.Total)
            {
                mismatches.Add($"order {order.Id}: accrued on {accruals[0].Amount} KRW, its total is {order.Total}");
            }
        }
        foreach (var (orderId, lines) in byOrder.Where(g => !orders.ContainsKey(g.Key)))
        {
            if (lines.Sum(e => e.Points) != 0)
            {
                mismatches.Add($"ledger order {orderId} has {lines.Sum(e => e.Points)} points and no order");
            }
        }

        // Exactly once per key: one order at most, and every order belongs to a purchase's key.
        var orderByKey = orders.Values.Where(o => o.Key is not null).ToDictionary(o => (o.UserId, o.Key!), o => o);
        foreach (var order in orders.Values.Where(o => o.Key is null))
        {
            mismatches.Add($"order {order.Id} has no idempotency key (a duplicate?)");
        }
        foreach (var purchase in plan)
        {
            var order = orderByKey.GetValueOrDefault((purchase.User, purchase.Key));
            var final = purchase.Final!;
            var told = purchase.Answers.Where(a => a.Status == 200).Select(a => a.OrderId).Distinct().ToList();
            if (told.Count > 0 && (final.Status != 200 || told.Count > 1 || told[0] != final.OrderId))
            {
                mismatches.Add($"purchase {purchase.Number} (key {purchase.Key}) was told 200 for order(s) {string.Join(", ", told)} but settled as {final.Status} {final.Body}");
            }
            if (final.Status == 200 && (order is null || order.Id.ToString() != final.OrderId || order.Status != "Placed"))
            {
                mismatches.Add($"purchase {purchase.Number} (key {purchase.Key}) answered 200 for order {final.OrderId}, which is {order?.Status ?? "missing"}");
            }
            if (final.Status != 200 && order is { Status: "Placed" })
            {
                mismatches.Add($"purchase {purchase.Number} (key {purchase.Key}) answered {final.Status} but its order {order.Id} is Placed: {final.Body}");
            }
            var settled = purchase.Answers.Where(a => a.Replayed).Select(a => (a.Status, a.Body)).Distinct().ToList();
            if (settled.Count > 1)
            {
                var sb = new StringBuilder($"purchase {purchase.Number} (key {purchase.Key}) replayed {settled.Count} different answers:");
                foreach (var (status, body) in settled)
                {
                    sb.Append(CultureInfo.InvariantCulture, $" [{status} {body}]");
                }
                mismatches.Add(sb.ToString());
            }
        }
        return mismatches;
    }
}
