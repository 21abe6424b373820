using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Portico.Tests.Common.Contracts;

namespace Portico.Contracts.Tests.Events;

/// <summary>
/// Each integration message's JSON schema against its committed baseline <c>services/Contracts/baseline/events/{MessageType}.json</c>.
/// <c>scripts/update-baselines.sh</c> rewrites them (and deletes the baseline of a message that no longer exists, so the removal shows in review).
/// </summary>
public sealed class EventContractTests
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static string Folder => Path.Combine(ContractBaselines.Folder, "events");

    [Fact]
    public async Task EventSchemas_DoNotBreakTheirBaselines()
    {
        var messages = EventSchemas.Messages();
        Assert.Contains("OrderPlaced.v1", messages.Keys);
        var cancellationToken = TestContext.Current.CancellationToken;

        if (ContractBaselines.Updating)
        {
            Directory.CreateDirectory(Folder);
            foreach (var stale in Directory.GetFiles(Folder, "*.json").Where(file => !messages.ContainsKey(Path.GetFileNameWithoutExtension(file))))
            {
                File.Delete(stale);
            }
            foreach (var (name, type) in messages)
            {
                await File.WriteAllTextAsync(Path.Combine(Folder, name + ".json"), EventSchemas.SchemaOf(type).ToJsonString(Indented) + "\n",
                    new UTF8Encoding(false), cancellationToken);
            }
            return;
        }

        var breaking = new List<string>();
        foreach (var (name, type) in messages)
        {
            var file = Path.Combine(Folder, name + ".json");
            if (!File.Exists(file))
            {
                breaking.Add($"{name} has no baseline {file}: run scripts/update-baselines.sh and commit it.");
                continue;
            }
            var baseline = JsonNode.Parse(await File.ReadAllTextAsync(file, cancellationToken))!.AsObject();
            breaking.AddRange(EventSchemaCompatibility.BreakingChanges(name, baseline, EventSchemas.SchemaOf(type)));
        }
        foreach (var file in Directory.GetFiles(Folder, "*.json"))
        {
            if (!messages.ContainsKey(Path.GetFileNameWithoutExtension(file)))
            {
                breaking.Add($"{Path.GetFileNameWithoutExtension(file)} was removed; its consumers still subscribe to it.");
            }
        }
        Assert.True(breaking.Count == 0,
            $"The integration events break their baselines ({Folder}):\n  {string.Join("\n  ", breaking)}\n"
            + "A breaking change is a new message name (OrderPlaced.v2) published beside the old one; if this one is intended, run scripts/update-baselines.sh.");
    }
}
