using Microsoft.Extensions.Options;

namespace Portico.Weather;

/// <summary>Checks <see cref="WeatherOptions"/> at start-up and reports every problem at once.</summary>
internal sealed class WeatherOptionsValidator : IValidateOptions<WeatherOptions>
{
    public ValidateOptionsResult Validate(string? name, WeatherOptions options)
    {
        var errors = new List<string>();
        if (options.Delay < TimeSpan.Zero)
        {
            errors.Add($"{WeatherOptions.SectionName}:{nameof(WeatherOptions.Delay)} must not be negative (was {options.Delay}).");
        }
        if (options.Delay > WeatherOptions.MaxDelay)
        {
            errors.Add($"{WeatherOptions.SectionName}:{nameof(WeatherOptions.Delay)} must be at most {WeatherOptions.MaxDelay} (was {options.Delay}).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
