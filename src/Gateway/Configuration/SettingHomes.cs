using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Portico.Gateway.Configuration;

/// <summary>Which of the two files a setting is read from.</summary>
internal enum SettingFile
{
    /// <summary>The host settings: appsettings.json, the environment, the command line.</summary>
    Host,

    /// <summary>The gateway file (<see cref="GatewayOptions.ConfigFile"/>), validated as a whole and hot-reloaded.</summary>
    GatewayFile,
}

/// <summary>
/// The one home of a group of <c>Portico</c> settings. Both files have a <c>Portico</c> section, so a setting written in
/// the wrong one would be silently ignored; each feature records where its settings live, and a setting found in the
/// other file is a start-up error (host settings) or an error of that version of the gateway file.
/// </summary>
internal sealed record SettingHome(IReadOnlyList<string> Paths, SettingFile File)
{
    /// <summary>The keys of <paramref name="options"/> bound at <paramref name="section"/>: each of its properties.</summary>
    public static SettingHome Host(string section, Type options) => new(
        options.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is not null)
            .Select(p => section + ConfigurationPath.KeyDelimiter + p.Name).ToArray(),
        SettingFile.Host);

    public static SettingHome GatewayFile(string path) => new([path], SettingFile.GatewayFile);
}

internal static class SettingHomes
{
    /// <summary>
    /// Each setting group of <paramref name="configuration"/> whose home is the other file; a key belongs to the home
    /// with the longest path it lies under (<c>Portico:Jobs:Queues</c> is a host setting although the gateway file's
    /// job routes are <c>Portico:Jobs:{name}</c>).
    /// </summary>
    public static IEnumerable<string> Misplaced(IConfiguration configuration, IEnumerable<SettingHome> homes, SettingFile readFrom)
    {
        var paths = homes.SelectMany(h => h.Paths.Select(p => (Path: p, h.File))).OrderByDescending(h => h.Path.Length).ToArray();
        var misplaced = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        // Values only: a section's own key (Portico:Jobs) says nothing of where the keys below it belong.
        foreach (var (key, value) in configuration.GetSection(GatewayOptions.SectionName).AsEnumerable())
        {
            if (value is null)
            {
                continue;
            }
            foreach (var (path, file) in paths)
            {
                if (key.Equals(path, StringComparison.OrdinalIgnoreCase)
                    || (key.StartsWith(path, StringComparison.OrdinalIgnoreCase) && key[path.Length] == ':'))
                {
                    if (file != readFrom)
                    {
                        misplaced.Add(path);
                    }
                    break;
                }
            }
        }
        return misplaced;
    }

    public static string InGatewayFile(string path) =>
        $"{path} is a host setting, read from appsettings.json or the environment and not from the gateway file; move it to the host settings.";

    public static string InHostSettings(string path, string configFile) =>
        $"{path} is read from the gateway file ({configFile}), not from the host settings; move it there.";
}

/// <summary>Refuses to start while the host settings hold a section whose home is the gateway file.</summary>
internal sealed class MisplacedHostSettingsValidator(IConfiguration configuration, IEnumerable<SettingHome> homes) : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var errors = SettingHomes.Misplaced(configuration, homes, SettingFile.Host).Select(p => SettingHomes.InHostSettings(p, options.ConfigFile)).ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
