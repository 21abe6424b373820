using Portico.Tests.Common;

namespace Portico.Weather.Tests;

/// <summary>
/// The Weather service on a real Kestrel port (127.0.0.1:0) with the given <c>Weather:Delay</c>
/// (zero unless a test needs one) and, when given, a test clock in place of <see cref="TimeProvider.System"/>.
/// </summary>
public sealed class WeatherApp(string delay = "00:00:00", TimeProvider? timeProvider = null)
    : ServiceApp<Program>(new Dictionary<string, string?> { ["Weather:Delay"] = delay }, timeProvider);
