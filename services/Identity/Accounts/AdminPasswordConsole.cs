namespace Portico.Identity.Accounts;

/// <summary>
/// Where the Development-only generated administrator password is shown: the process's standard output, written
/// directly, so that it never passes through <see cref="ILogger"/> and so never reaches OpenTelemetry or any other
/// log sink. Replaceable in the service collection (a test host gives it a <see cref="StringWriter"/>).
/// </summary>
internal sealed class AdminPasswordConsole(TextWriter output)
{
    public void ShowGeneratedPassword(string email, string password)
    {
        output.WriteLine($"Portico Identity (Development): created the administrator account {email}. It is shown this once only, here and in no log; its generated password is: {password}");
        output.Flush();
    }
}
