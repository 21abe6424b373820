using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using Xunit;

namespace Portico.Tests.Common.Contracts;

/// <summary>
/// The committed contract baselines (<c>services/Contracts/baseline/</c>) and the one way to update them: run the contract
/// tests with <c>PORTICO_UPDATE_BASELINES=1</c> (<c>scripts/update-baselines.sh</c>), which writes the current contract in
/// place of the baseline, so the change shows in review as a diff of that file.
/// </summary>
public static class ContractBaselines
{
    public const string UpdateVariable = "PORTICO_UPDATE_BASELINES";

    // Readable in review: no BOM, "+" rather than \u002B.
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static bool Updating => Environment.GetEnvironmentVariable(UpdateVariable) == "1";

    /// <summary><c>services/Contracts/baseline</c> of the repository the tests were built from.</summary>
    public static string Folder
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Portico.slnx")))
                {
                    return Path.Combine(dir.FullName, "services", "Contracts", "baseline");
                }
            }
            throw new InvalidOperationException("Portico.slnx not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>
    /// Reads the service's <c>/openapi/v1.json</c>, asserts it is OpenAPI 3.1 that Microsoft.OpenApi reads without errors,
    /// then compares it with <c>openapi/{service}.json</c> of the baseline (or writes it there when updating).
    /// </summary>
    public static async Task<JsonObject> AssertOpenApiCompatibleAsync(HttpClient service, string name)
    {
        var text = await service.GetStringAsync("openapi/v1.json", TestContext.Current.CancellationToken);
        var read = OpenApiDocument.Parse(text, "json");
        Assert.Empty(read.Diagnostic!.Errors.Select(e => $"{e.Pointer}: {e.Message}"));
        Assert.Equal(OpenApiSpecVersion.OpenApi3_1, read.Diagnostic.SpecificationVersion);
        var current = JsonNode.Parse(text)!.AsObject();

        var file = Path.Combine(Folder, "openapi", name + ".json");
        if (Updating)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            await File.WriteAllTextAsync(file, current.ToJsonString(Indented) + "\n", new UTF8Encoding(false), TestContext.Current.CancellationToken);
            return current;
        }
        Assert.True(File.Exists(file), $"No baseline {file}: run scripts/update-baselines.sh and commit it.");
        var baseline = JsonNode.Parse(await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken))!.AsObject();
        var breaking = OpenApiCompatibility.BreakingChanges(baseline, current);
        Assert.True(breaking.Count == 0,
            $"{name}'s OpenAPI document breaks its baseline ({file}):\n  {string.Join("\n  ", breaking)}\n"
            + "A breaking change needs a new version (/api/v2) beside the old one; if this one is intended, run scripts/update-baselines.sh.");
        return current;
    }
}
