using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;

namespace Portico.Gateway.Configuration;

/// <summary>One accepted version of the gateway file, as the admin API lists it.</summary>
/// <param name="Version">The first 12 hex digits of the SHA-256 of the file's text: the same text is always the same version.</param>
/// <param name="AppliedAt">When it came into force.</param>
/// <param name="By">Who applied it: an admin's user id, or <c>file</c> for an edit of the file on disk.</param>
/// <param name="Routes">How many routes it has.</param>
/// <param name="Clusters">How many clusters it has.</param>
public sealed record GatewayConfigVersion(string Version, DateTimeOffset AppliedAt, string By, int Routes, int Clusters);

/// <summary>
/// The last <see cref="Capacity"/> accepted versions of the gateway file, kept beside it in <c>.{file}.versions/</c>
/// (an index and one text per version) so that a rollback survives a restart. A folder that cannot be written is
/// logged and the history stays in memory: keeping versions must never stop the gateway from applying one.
/// </summary>
internal sealed partial class GatewayConfigHistory
{
    public const int Capacity = 10;
    private const string IndexName = "index.json";

    private readonly string _folder;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly List<GatewayConfigVersion> _versions;
    private readonly Dictionary<string, string> _texts = new(StringComparer.Ordinal);

    public GatewayConfigHistory(string configPath, ILogger logger)
    {
        _folder = Path.Combine(Path.GetDirectoryName(configPath)!, "." + Path.GetFileName(configPath) + ".versions");
        _logger = logger;
        _versions = Load();
    }

    public static string VersionOf(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..12];

    /// <summary>Newest first.</summary>
    public IReadOnlyList<GatewayConfigVersion> List()
    {
        lock (_lock)
        {
            return [.. _versions];
        }
    }

    /// <summary>The text of a version still kept, or null.</summary>
    public string? TextOf(string version)
    {
        lock (_lock)
        {
            if (!_versions.Any(v => v.Version == version))
            {
                return null;
            }
            if (_texts.TryGetValue(version, out var text))
            {
                return text;
            }
        }
        try
        {
            return File.ReadAllText(Path.Combine(_folder, version + ".json"));
        }
        catch (IOException ex)
        {
            Log.HistoryUnavailable(_logger, _folder, ex.Message);
            return null;
        }
    }

    /// <summary>Records a version that was just accepted; a repeat of the newest one (a reload of the same text) is not a new version.</summary>
    public GatewayConfigVersion Record(string text, string by, DateTimeOffset at, int routes, int clusters)
    {
        var version = new GatewayConfigVersion(VersionOf(text), at, by, routes, clusters);
        GatewayConfigVersion[] kept;
        string[] dropped;
        lock (_lock)
        {
            if (_versions.Count > 0 && _versions[0].Version == version.Version)
            {
                return _versions[0];
            }
            _versions.RemoveAll(v => v.Version == version.Version);
            _versions.Insert(0, version);
            _texts[version.Version] = text;
            dropped = [.. _versions.Skip(Capacity).Select(v => v.Version)];
            _versions.RemoveRange(Math.Min(Capacity, _versions.Count), Math.Max(0, _versions.Count - Capacity));
            foreach (var gone in dropped)
            {
                _texts.Remove(gone);
            }
            kept = [.. _versions];
        }
        try
        {
            Directory.CreateDirectory(_folder);
            File.WriteAllText(Path.Combine(_folder, version.Version + ".json"), text);
            WriteAtomically(Path.Combine(_folder, IndexName), JsonSerializer.Serialize(kept, HistoryJson.Default.GatewayConfigVersionArray));
            foreach (var gone in dropped)
            {
                File.Delete(Path.Combine(_folder, gone + ".json"));
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.HistoryUnavailable(_logger, _folder, ex.Message);
        }
        return version;
    }

    /// <summary>Writes a whole file or nothing: a reader (the gateway's own watcher, a restart) never sees half of it.</summary>
    public static void WriteAtomically(string path, string text)
    {
        var temp = path + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }

    private List<GatewayConfigVersion> Load()
    {
        try
        {
            var index = Path.Combine(_folder, IndexName);
            return File.Exists(index)
                ? [.. (JsonSerializer.Deserialize(File.ReadAllText(index), HistoryJson.Default.GatewayConfigVersionArray) ?? []).Take(Capacity)]
                : [];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            Log.HistoryUnavailable(_logger, _folder, ex.Message);
            return [];
        }
    }

    private static partial class Log
    {
        [LoggerMessage(10, LogLevel.Warning, "Gateway configuration history in {Folder} cannot be read or written; versions are kept in memory only. {Reason}")]
        public static partial void HistoryUnavailable(ILogger logger, string folder, string reason);
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(GatewayConfigVersion[]))]
internal sealed partial class HistoryJson : JsonSerializerContext;
