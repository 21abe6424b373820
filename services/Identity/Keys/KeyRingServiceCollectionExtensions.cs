using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Options;

namespace Portico.Identity.Keys;

internal static class KeyRingServiceCollectionExtensions
{
    /// <summary>
    /// ASP.NET Core Data Protection for the signing keys at rest: the key ring in <see cref="KeyRingOptions.Path"/>
    /// (0700, files 0600; read from <see cref="IdentityServiceOptions"/> when the key ring is first used, so test hosts
    /// can set it), encrypted with the certificate of <see cref="KeyRingOptions.CertificatePath"/> when one is configured.
    /// </summary>
    public static IServiceCollection AddSigningKeyProtection(this IServiceCollection services, IConfiguration configuration)
    {
        var dataProtection = services.AddDataProtection().SetApplicationName("Portico.Identity");
        var keyRing = configuration.GetSection($"{IdentityServiceOptions.SectionName}:{nameof(IdentityServiceOptions.KeyRing)}");
        // A missing file is reported by the options validator, with every other problem, at start-up.
        if (keyRing[nameof(KeyRingOptions.CertificatePath)] is { Length: > 0 } certificatePath && File.Exists(certificatePath))
        {
            dataProtection.ProtectKeysWithCertificate(
                X509CertificateLoader.LoadPkcs12FromFile(certificatePath, keyRing[nameof(KeyRingOptions.CertificatePassword)]));
        }
        services.AddOptions<KeyManagementOptions>()
            .Configure<IOptions<IdentityServiceOptions>>((keyManagement, identity) =>
                keyManagement.XmlRepository = new RestrictedFileXmlRepository(identity.Value.KeyRing.Path));
        return services;
    }
}
