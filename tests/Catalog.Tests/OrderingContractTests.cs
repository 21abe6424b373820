using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace Portico.Catalog.Tests;

/// <summary>
/// Consumer-driven contract: Ordering's expectation of Catalog (<c>services/Ordering/Catalog/catalog-contract.json</c>,
/// written by Ordering beside its client) checked against Catalog's real answers. A change of Catalog that would break
/// Ordering's pricing fails here, in Catalog's suite, before Ordering ever sees it.
/// </summary>
public sealed class OrderingContractTests(CatalogFixture fixture) : IClassFixture<CatalogFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string ContractFile
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Portico.slnx")))
                {
                    return Path.Combine(dir.FullName, "services", "Ordering", "Catalog", "catalog-contract.json");
                }
            }
            throw new InvalidOperationException("Portico.slnx not found above " + AppContext.BaseDirectory);
        }
    }

    private static async Task<JsonObject> InteractionAsync(string given)
    {
        var contract = JsonNode.Parse(await File.ReadAllTextAsync(ContractFile, Ct))!;
        Assert.Equal("catalog", contract["provider"]!.GetValue<string>());
        return contract["interactions"]!.AsArray().OfType<JsonObject>().Single(i => i["given"]!.GetValue<string>() == given);
    }

    private async Task<HttpResponseMessage> SendAsync(JsonObject interaction, int id)
    {
        var request = interaction["request"]!;
        var path = request["path"]!.GetValue<string>().Replace("{id}", id.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        using var message = new HttpRequestMessage(new HttpMethod(request["method"]!.GetValue<string>()), path.TrimStart('/'));
        return await fixture.Client.SendAsync(message, Ct);
    }

    [Fact]
    public async Task ExistingProduct_AnswersWhatOrderingReadsToPriceALine()
    {
        var interaction = await InteractionAsync("an existing product");
        var expected = interaction["response"]!;
        var page = await fixture.Client.GetPageAsync("?pageSize=100");
        Assert.NotEmpty(page.Items);

        // Every product, not one: a product whose answer breaks the contract breaks the orders that name it.
        foreach (var product in page.Items)
        {
            using var response = await SendAsync(interaction, product.Id);
            Assert.Equal(expected["status"]!.GetValue<int>(), (int)response.StatusCode);
            Assert.Equal(expected["contentType"]!.GetValue<string>(), response.Content.Headers.ContentType?.MediaType);
            // "{id}" in the schema stands for the id asked for.
            var schema = JsonSchema.FromText(expected["body"]!.ToJsonString().Replace("\"{id}\"", product.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
            var result = schema.Evaluate(body.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            Assert.True(result.IsValid, $"Catalog's answer for product {product.Id} breaks Ordering's contract ({ContractFile}):\n  "
                + string.Join("\n  ", (result.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))));
        }
    }

    [Fact]
    public async Task UnknownProduct_AnswersTheStatusOrderingTreatsAsUnknown()
    {
        var interaction = await InteractionAsync("an unknown product");

        using var response = await SendAsync(interaction, 999_999);

        Assert.Equal(interaction["response"]!["status"]!.GetValue<int>(), (int)response.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task TheContract_RejectsAnAnswerWithoutPrice_SoTheCheckCanFail()
    {
        var interaction = await InteractionAsync("an existing product");
        var schema = JsonSchema.FromText(interaction["response"]!["body"]!.ToJsonString().Replace("\"{id}\"", "7", StringComparison.Ordinal));

        using var priceless = JsonDocument.Parse("""{ "id": 7, "name": "Wireless Keyboard", "price": { "amount": 39000, "currency": "KRW" } }""");
        using var otherId = JsonDocument.Parse("""{ "id": 8, "name": "Wireless Keyboard", "price": 39000 }""");
        using var fine = JsonDocument.Parse("""{ "id": 7, "name": "Wireless Keyboard", "price": 39000, "extra": true }""");

        Assert.False(schema.Evaluate(priceless.RootElement).IsValid);
        Assert.False(schema.Evaluate(otherId.RootElement).IsValid);
        Assert.True(schema.Evaluate(fine.RootElement).IsValid);
    }
}
