using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Portico.Ordering.Catalog;
using Portico.Tests.Common;

namespace Portico.Ordering.Tests;

/// <summary>
/// Ordering's side of its consumer contract with Catalog (<c>services/Ordering/Catalog/catalog-contract.json</c>, checked
/// against Catalog's real answers in Catalog's suite): the file names every field the client reads, and the client prices
/// with nothing more than the file promises.
/// </summary>
public sealed class CatalogContractTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static JsonNode Contract()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(dir!.FullName, "Portico.slnx")))
        {
            dir = dir.Parent;
        }
        return JsonNode.Parse(File.ReadAllText(Path.Combine(dir.FullName, "services", "Ordering", "Catalog", "catalog-contract.json")))!;
    }

    private static JsonObject Interaction(string given) =>
        Contract()["interactions"]!.AsArray().OfType<JsonObject>().Single(i => i["given"]!.GetValue<string>() == given);

    [Fact]
    public void Contract_NamesAsRequiredEveryFieldTheClientReads()
    {
        var required = Interaction("an existing product")["response"]!["body"]!["required"]!.AsArray().Select(v => v!.GetValue<string>()).ToHashSet();
        var read = typeof(CatalogProduct).GetProperties().Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name));

        Assert.Subset(required, read.ToHashSet());
    }

    [Fact]
    public async Task Client_PricesFromAnAnswerWithOnlyTheContractsFields_AndReadsTheUnknownStatusAsNoProduct()
    {
        var existing = Interaction("an existing product");
        var unknown = Interaction("an unknown product");
        Assert.Equal(200, existing["response"]!["status"]!.GetValue<int>());
        var required = existing["response"]!["body"]!["required"]!.AsArray().Select(v => v!.GetValue<string>()).ToList();
        var values = new Dictionary<string, object> { ["id"] = 7, ["name"] = "무선 키보드", ["price"] = 39000L };
        var minimal = required.ToDictionary(name => name, name => values[name]);
        var unknownStatus = unknown["response"]!["status"]!.GetValue<int>();
        await using var catalog = await TestBackend.StartAsync("catalog", app => app.MapGet("/api/products/{id:int}",
            (int id) => id == 7 ? Results.Json(minimal) : Results.StatusCode(unknownStatus)));
        using var http = new HttpClient { BaseAddress = catalog.Address };
        var client = new CatalogClient(http);

        var product = await client.GetProductAsync(7, Ct);
        var missing = await client.GetProductAsync(8, Ct);

        Assert.Equal(new CatalogProduct(7, "무선 키보드", 39000), product);
        Assert.Null(missing);
    }
}
