using System.Text;
using Google.Protobuf;
using Portico.Tests.Common.Contracts;

namespace Portico.Contracts.Tests.Protos;

/// <summary>
/// The compiled <c>.proto</c> contracts against the committed baseline <c>services/Contracts/baseline/protos.binpb</c>
/// (with <c>protos.json</c>, its readable copy for review). <c>scripts/update-baselines.sh</c> rewrites both.
/// </summary>
public sealed class ProtoContractTests
{
    private static string BinaryFile => Path.Combine(ContractBaselines.Folder, "protos.binpb");

    private static string ReadableFile => Path.Combine(ContractBaselines.Folder, "protos.json");

    [Fact]
    public async Task CurrentProtos_DoNotBreakTheBaseline()
    {
        var current = ProtoDescriptors.Current();
        Assert.Contains(current, file => file.Name == "loyalty/v1/loyalty.proto");
        var cancellationToken = TestContext.Current.CancellationToken;

        if (ContractBaselines.Updating)
        {
            var set = ProtoDescriptors.ToSet(current);
            await File.WriteAllBytesAsync(BinaryFile, set.ToByteArray(), cancellationToken);
            await File.WriteAllTextAsync(ReadableFile, ProtoDescriptors.ToReadableJson(set), new UTF8Encoding(false), cancellationToken);
            return;
        }

        Assert.True(File.Exists(BinaryFile), $"No baseline {BinaryFile}: run scripts/update-baselines.sh and commit it.");
        var baseline = ProtoDescriptors.Read(await File.ReadAllBytesAsync(BinaryFile, cancellationToken));
        // The readable copy is what review reads; it must say what the binary says.
        Assert.Equal(ProtoDescriptors.ToReadableJson(baseline), await File.ReadAllTextAsync(ReadableFile, cancellationToken));

        var breaking = ProtoCompatibility.BreakingChanges(ProtoDescriptors.Load(baseline), current);
        Assert.True(breaking.Count == 0,
            $"The .proto contracts break their baseline ({BinaryFile}):\n  {string.Join("\n  ", breaking)}\n"
            + "A breaking change needs a new package version (loyalty.v2) beside the old one; if this one is intended, run scripts/update-baselines.sh.");
    }
}
