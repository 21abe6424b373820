using Microsoft.Extensions.Options;

namespace Portico.Identity.Mail;

/// <summary>
/// Where mail to users goes while Portico has no mail transport: in Development, one text file per message in
/// <see cref="MailSinkOptions.Path"/> (directory 0700, files 0600), each headed as a development sink so nobody takes
/// it for sent mail. Outside Development nothing is written and a warning says mail is not configured.
/// </summary>
internal sealed partial class DevelopmentMailSink(IOptions<IdentityServiceOptions> options, IHostEnvironment environment, TimeProvider timeProvider, ILogger<DevelopmentMailSink> logger)
{
    public async Task SendAsync(string to, string subject, string body, CancellationToken cancellationToken)
    {
        if (!environment.IsDevelopment())
        {
            Log.NoMailTransport(logger, subject);
            return;
        }
        var directory = options.Value.MailSink.Path;
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var file = Path.Combine(directory, $"{timeProvider.GetUtcNow():yyyyMMddTHHmmssfff}-{Guid.NewGuid():N}.txt");
        var temporary = file + ".tmp";
        var stream = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            stream.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        await using (var writer = new StreamWriter(temporary, System.Text.Encoding.UTF8, stream))
        {
            await writer.WriteAsync($"""
            X-Portico: DEVELOPMENT MAIL SINK - this message was NOT sent
            To: {to}
            Subject: {subject}

            {body}

            """.AsMemory(), cancellationToken);
        }
        // Whole messages only: a reader never sees one half written.
        File.Move(temporary, file);
        Log.MailWritten(logger, subject, file);
    }

    private static partial class Log
    {
        // The recipient is not logged (personal data), nor the body (it holds a token).
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Development mail sink: wrote \"{Subject}\" to {File} (not sent)")]
        public static partial void MailWritten(ILogger logger, string subject, string file);

        [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "No mail transport is configured outside Development; \"{Subject}\" was not sent")]
        public static partial void NoMailTransport(ILogger logger, string subject);
    }
}
