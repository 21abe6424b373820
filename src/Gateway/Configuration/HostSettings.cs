using System.Buffers;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Portico.Gateway.Configuration;

/// <summary>
/// How every host-settings options type of the gateway is registered: bound from its section, checked at start by its
/// <c>[OptionsValidator]</c> (source-generated from the type's DataAnnotations), and recorded as a host setting so that
/// the same keys in the gateway file are refused (<see cref="SettingHomes"/>).
/// </summary>
internal static class HostSettings
{
    internal static readonly SearchValues<char> MemberNameChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");

    public static OptionsBuilder<TOptions> AddHostSettings<TOptions, TValidator>(this IServiceCollection services, string section)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>, new()
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>>(new SectionKeyValidator<TOptions>(section, new TValidator())));
        services.AddSingleton(SettingHome.Host(section, typeof(TOptions)));
        return services.AddOptions<TOptions>().BindConfiguration(section).ValidateOnStart();
    }
}

/// <summary>
/// Runs a generated validator with the section's path as the options name. The generator names a value
/// <c>{name}.{Member}</c>, and nested members <c>{name}.{Member}.{Inner}</c>; this turns that into the key an operator
/// sets (<c>Portico:Limits:MaxRequestHeaderCount</c>), so every message names the setting to fix.
/// </summary>
internal sealed class SectionKeyValidator<TOptions>(string section, IValidateOptions<TOptions> generated) : IValidateOptions<TOptions>
    where TOptions : class
{
    private readonly Regex _path = new(Regex.Escape(section) + @"(?:\.[A-Za-z_][A-Za-z0-9_]*)+", RegexOptions.CultureInvariant);

    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        // Named instances are not used by the gateway; the default one is the section itself.
        if (!string.IsNullOrEmpty(name))
        {
            return ValidateOptionsResult.Skip;
        }
        var result = generated.Validate(section, options);
        return result.Failed ? ValidateOptionsResult.Fail(result.Failures!.Select(Rewrite)) : result;
    }

    private string Rewrite(string failure)
    {
        // "Member: The field Section.Member must …": the key in the message says it all, the member prefix goes.
        var colon = failure.IndexOf(": ", StringComparison.Ordinal);
        if (colon > 0 && !failure.AsSpan(0, colon).ContainsAnyExcept(HostSettings.MemberNameChars) && failure.IndexOf(section, colon, StringComparison.Ordinal) > 0)
        {
            failure = failure[(colon + 2)..];
        }
        return _path.Replace(failure, m => m.Value.Replace('.', ':'));
    }
}

