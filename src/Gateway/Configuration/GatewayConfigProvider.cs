using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Configuration;

namespace Portico.Gateway.Configuration;

/// <summary>
/// Feeds YARP from the gateway file. The first load must be valid or the gateway does not start; later
/// edits are applied only when the whole file is valid, otherwise they are logged and the last good
/// version keeps serving.
/// </summary>
internal sealed partial class GatewayConfigProvider : IProxyConfigProvider, IDisposable
{
    private static readonly TimeSpan ReloadDelay = TimeSpan.FromMilliseconds(200);

    /// <summary>Who applied a version that was read from the file on disk (at start, or after an edit there).</summary>
    public const string FileEditor = "file";

    private readonly IConfigValidator _yarpValidator;
    private readonly IGatewayConfigSection[] _sections;
    private readonly SettingHome[] _homes;
    private readonly HealthCheckDefaults _healthDefaults;
    private readonly ILogger<GatewayConfigProvider> _logger;
    private readonly TimeProvider _timeProvider;
    private readonly PhysicalFileProvider _fileProvider;
    private readonly string _fileName;
    private readonly SemaphoreSlim _reloadLock = new(1, 1);
    private readonly GatewayConfigHistory _history;
    private Snapshot? _current;
    private string? _currentText;
    private IDisposable? _watch;

    public GatewayConfigProvider(
        IOptions<GatewayOptions> options,
        IHostEnvironment environment,
        IConfigValidator yarpValidator,
        IEnumerable<IGatewayConfigSection> sections,
        IEnumerable<SettingHome> homes,
        TimeProvider timeProvider,
        ILogger<GatewayConfigProvider> logger)
    {
        Path = System.IO.Path.GetFullPath(options.Value.ConfigFile, environment.ContentRootPath);
        _fileName = System.IO.Path.GetFileName(Path);
        _fileProvider = new PhysicalFileProvider(System.IO.Path.GetDirectoryName(Path)!);
        _healthDefaults = options.Value.HealthChecks;
        _yarpValidator = yarpValidator;
        _sections = sections.ToArray();
        _homes = homes.ToArray();
        _timeProvider = timeProvider;
        _logger = logger;
        _history = new GatewayConfigHistory(Path, logger);
    }

    /// <summary>Full path of the gateway file.</summary>
    public string Path { get; }

    /// <summary>What <typeparamref name="T"/>'s section read from the version in force.</summary>
    public T GetSection<T>() where T : class => (T)EnsureLoaded().Sections[typeof(T)];

    public IProxyConfig GetConfig() => EnsureLoaded();

    /// <summary>Fires when a new version of the file is accepted.</summary>
    public IChangeToken GetChangeToken() => EnsureLoaded().ChangeToken;

    /// <summary>Loads the file the first time; throws <see cref="GatewayConfigurationException"/> listing every error.</summary>
    public void EnsureValid() => EnsureLoaded();

    /// <summary>The text of the version in force, as it was read (comments and all).</summary>
    public string CurrentText
    {
        get
        {
            EnsureLoaded();
            return Volatile.Read(ref _currentText)!;
        }
    }

    /// <summary>The version in force (see <see cref="GatewayConfigVersion.Version"/>).</summary>
    public string CurrentVersion => GatewayConfigHistory.VersionOf(CurrentText);

    /// <summary>The last accepted versions, newest first.</summary>
    public IReadOnlyList<GatewayConfigVersion> Versions => _history.List();

    /// <summary>The text of a version still kept in the history, or null.</summary>
    public string? TextOf(string version) => _history.TextOf(version);

    /// <summary>Every error a proposed text of the file has, checked as a reload would check it; nothing is applied.</summary>
    public async Task<IReadOnlyList<string>> ValidateAsync(string text)
    {
        EnsureLoaded();
        await _reloadLock.WaitAsync();
        try
        {
            return Build(text).Errors;
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    /// <summary>
    /// Applies a proposed text at once if it is valid: writes it to the gateway file (whole, so the watcher and a restart
    /// read the same version) and puts it in force. <paramref name="expectedVersion"/>, when given, must be the version in
    /// force, so two admins editing at once cannot overwrite each other unseen.
    /// </summary>
    public async Task<GatewayConfigApplyResult> ApplyAsync(string text, string by, string? expectedVersion = null)
    {
        EnsureLoaded();
        await _reloadLock.WaitAsync();
        try
        {
            var current = GatewayConfigHistory.VersionOf(_currentText!);
            if (expectedVersion is not null && !string.Equals(expectedVersion, current, StringComparison.OrdinalIgnoreCase))
            {
                return new GatewayConfigApplyResult(null, [], current);
            }
            var (snapshot, errors) = Build(text);
            if (snapshot is null)
            {
                return new GatewayConfigApplyResult(null, errors, current);
            }
            GatewayConfigHistory.WriteAtomically(Path, text);
            var applied = Accept(text, snapshot, by);
            Log.Applied(_logger, Path, applied.Version, by, snapshot.Routes.Count, snapshot.Clusters.Count);
            return new GatewayConfigApplyResult(applied, [], current);
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    /// <summary>Puts a checked version in force and records it; the caller holds the reload lock.</summary>
    private GatewayConfigVersion Accept(string text, Snapshot snapshot, string by)
    {
        var previous = _current!;
        _currentText = text;
        Volatile.Write(ref _current, snapshot);
        previous.SignalChange();
        return _history.Record(text, by, _timeProvider.GetUtcNow(), snapshot.Routes.Count, snapshot.Clusters.Count);
    }

    private Snapshot EnsureLoaded()
    {
        if (Volatile.Read(ref _current) is { } current)
        {
            return current;
        }

        _reloadLock.Wait();
        try
        {
            if (_current is null)
            {
                string text;
                try
                {
                    text = File.ReadAllText(Path);
                }
                catch (IOException ex)
                {
                    throw new GatewayConfigurationException(Path, [$"The file cannot be read: {ex.Message}"]);
                }
                var (snapshot, errors) = Build(text);
                if (snapshot is null)
                {
                    throw new GatewayConfigurationException(Path, errors);
                }
                _currentText = text;
                Volatile.Write(ref _current, snapshot);
                _history.Record(text, FileEditor, _timeProvider.GetUtcNow(), snapshot.Routes.Count, snapshot.Clusters.Count);
                Log.Loaded(_logger, Path, snapshot.Routes.Count, snapshot.Clusters.Count);
                Watch();
            }
            return _current;
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    private void Watch()
    {
        _watch?.Dispose();
        _watch = ChangeToken.OnChange(() => _fileProvider.Watch(_fileName), () => _ = ReloadAsync());
    }

    private async Task ReloadAsync()
    {
        // Editors write in several steps; let the file settle, then read it once.
        await Task.Delay(ReloadDelay, _timeProvider);
        await _reloadLock.WaitAsync();
        try
        {
            string text;
            try
            {
                text = await File.ReadAllTextAsync(Path);
            }
            catch (IOException ex)
            {
                Log.ReloadRejected(_logger, Path, 1, ex.Message);
                return;
            }
            if (text == _currentText)
            {
                return;
            }

            var (snapshot, errors) = Build(text);
            if (snapshot is null)
            {
                Log.ReloadRejected(_logger, Path, errors.Count, string.Join(" | ", errors));
                return;
            }

            Accept(text, snapshot, FileEditor);
            Log.Reloaded(_logger, Path, snapshot.Routes.Count, snapshot.Clusters.Count);
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    private (Snapshot? Snapshot, List<string> Errors) Build(string text)
    {
        var document = GatewayConfigDocument.Parse(text);
        var errors = new List<string>(document.Errors);
        errors.AddRange(SettingHomes.Misplaced(document.Configuration, _homes, SettingFile.GatewayFile).Select(SettingHomes.InGatewayFile));
        var (routes, clusters) = GatewayConfigReader.Read(document.Configuration, _healthDefaults, errors);
        GatewayConfigValidator.Validate(routes, clusters, errors);
        ValidateWithYarp(routes, clusters, errors);
        var context = new GatewayConfigContext(document.Configuration, document.Root, routes, clusters, errors);
        var sections = new Dictionary<Type, object>();
        foreach (var section in _sections)
        {
            var value = section.Read(context);
            sections[value.GetType()] = value;
        }
        return errors.Count == 0 ? (new Snapshot(routes, clusters, sections), errors) : (null, errors);
    }

    private void ValidateWithYarp(List<RouteConfig> routes, List<ClusterConfig> clusters, List<string> errors)
    {
        // YARP's validator only consults in-memory policy providers; its ValueTasks complete synchronously.
        foreach (var route in routes)
        {
            foreach (var error in Wait(_yarpValidator.ValidateRouteAsync(route)))
            {
                errors.Add($"Route '{route.RouteId}': {error.Message}");
            }
        }
        foreach (var cluster in clusters)
        {
            foreach (var error in Wait(_yarpValidator.ValidateClusterAsync(cluster)))
            {
                errors.Add($"Cluster '{cluster.ClusterId}': {error.Message}");
            }
        }

        static IList<Exception> Wait(ValueTask<IList<Exception>> task) =>
            task.IsCompletedSuccessfully ? task.Result : task.AsTask().GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        _watch?.Dispose();
        _fileProvider.Dispose();
        _reloadLock.Dispose();
    }

    private sealed class Snapshot : IProxyConfig
    {
        private readonly CancellationTokenSource _changed = new();

        public Snapshot(IReadOnlyList<RouteConfig> routes, IReadOnlyList<ClusterConfig> clusters, IReadOnlyDictionary<Type, object> sections)
        {
            Sections = sections;
            Routes = routes;
            Clusters = clusters;
            ChangeToken = new CancellationChangeToken(_changed.Token);
        }

        public IReadOnlyList<RouteConfig> Routes { get; }
        public IReadOnlyList<ClusterConfig> Clusters { get; }
        public IReadOnlyDictionary<Type, object> Sections { get; }
        public IChangeToken ChangeToken { get; }

        public void SignalChange() => _changed.Cancel();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Gateway configuration {Path} loaded: {RouteCount} routes, {ClusterCount} clusters.")]
        public static partial void Loaded(ILogger logger, string path, int routeCount, int clusterCount);

        [LoggerMessage(2, LogLevel.Information, "Gateway configuration {Path} reloaded: {RouteCount} routes, {ClusterCount} clusters.")]
        public static partial void Reloaded(ILogger logger, string path, int routeCount, int clusterCount);

        [LoggerMessage(4, LogLevel.Information, "Gateway configuration {Path} version {Version} applied by {By}: {RouteCount} routes, {ClusterCount} clusters.")]
        public static partial void Applied(ILogger logger, string path, string version, string by, int routeCount, int clusterCount);

        [LoggerMessage(3, LogLevel.Error, "Gateway configuration {Path} was changed but has {ErrorCount} error(s); the last good configuration keeps serving. {Errors}")]
        public static partial void ReloadRejected(ILogger logger, string path, int errorCount, string errors);
    }
}

/// <summary>
/// What <see cref="GatewayConfigProvider.ApplyAsync"/> did: <see cref="Applied"/> is the version now in force; else
/// <see cref="Errors"/> lists why the text was refused, or, when empty, another version came into force first.
/// </summary>
public sealed record GatewayConfigApplyResult(GatewayConfigVersion? Applied, IReadOnlyList<string> Errors, string VersionBefore);
