namespace Portico.Identity.Keys;

/// <summary>
/// Where the ASP.NET Core Data Protection key ring that encrypts the signing keys lives (<c>Identity:KeyRing</c>).
/// The signing keys in the database are useless without it, so keep it apart from the database and its backups.
/// </summary>
public sealed record KeyRingOptions
{
    /// <summary>
    /// Directory of the key ring files, created 0700 with files 0600 (<c>Identity:KeyRing:Path</c>); relative paths
    /// are taken from the working folder, as the default SQLite file is.
    /// </summary>
    public string Path { get; init; } = "identity-keys";

    /// <summary>
    /// A PKCS#12 file whose certificate encrypts the key ring at rest (<c>Identity:KeyRing:CertificatePath</c>);
    /// unset, the key ring is protected by its file modes only. Recommended in production.
    /// </summary>
    public string? CertificatePath { get; init; }

    /// <summary>The certificate file's password (<c>Identity:KeyRing:CertificatePassword</c>); from a secret store.</summary>
    public string? CertificatePassword { get; init; }

    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("Path = ").Append(Path).Append(", CertificatePath = ").Append(CertificatePath).Append(", CertificatePassword = ***");
        return true;
    }
}
