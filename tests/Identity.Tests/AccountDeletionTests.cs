using System.Net;
using System.Net.Http.Headers;
using Portico.Tests.Common;

namespace Portico.Identity.Tests;

public sealed class AccountDeletionTestsOnSqlite(IdentityFixture fixture) : AccountDeletionTests(fixture), IClassFixture<IdentityFixture>;

public sealed class AccountDeletionTestsOnPostgres(PostgresIdentityFixture fixture)
    : AccountDeletionTests(PostgresTestDatabase.Required(fixture)), IClassFixture<PostgresIdentityFixture>;

/// <summary>Gap 5: an administrator deletes an account; its logins end and its access tokens are revoked.</summary>
public abstract class AccountDeletionTests(IdentityFixture fixture)
{
    private const string AdminEmail = "admin@portico.local";

    private readonly HttpClient _client = fixture.Client;

    [Fact]
    public async Task Admin_DeletesAnAccount_ItsTokensAndLoginsEnd()
    {
        var email = IdentityClient.NewEmail();
        var user = await _client.RegisterAndGetUserAsync(email);
        var token = await _client.LoginOkAsync(email);
        var admin = await _client.LoginOkAsync(AdminEmail, IdentityFixture.AdminPassword);

        using (var delete = await DeleteAsync(admin.AccessToken, user.Id))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        using (var me = await _client.GetMeAsync(token.AccessToken))
        {
            await me.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
        using (var refresh = await _client.RefreshAsync(token.RefreshToken))
        {
            await refresh.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
        using (var login = await _client.LoginAsync(email))
        {
            await login.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
        using var again = await DeleteAsync(admin.AccessToken, user.Id);
        await again.ReadProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Delete_ByAUser_Is403_AndOwnAccount_Is409()
    {
        var email = IdentityClient.NewEmail();
        var user = await _client.RegisterAndGetUserAsync(email);
        var token = await _client.LoginOkAsync(email);
        var admin = await _client.LoginOkAsync(AdminEmail, IdentityFixture.AdminPassword);
        Guid adminId;
        using (var me = await _client.GetMeAsync(admin.AccessToken))
        {
            adminId = (await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<CurrentUserDto>(me.Content, TestContext.Current.CancellationToken))!.Id;
        }

        using (var byUser = await DeleteAsync(token.AccessToken, user.Id))
        {
            await byUser.ReadProblemAsync(HttpStatusCode.Forbidden);
        }
        using (var anonymous = await DeleteAsync(null, user.Id))
        {
            await anonymous.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
        using var own = await DeleteAsync(admin.AccessToken, adminId);
        await own.ReadProblemAsync(HttpStatusCode.Conflict);
    }

    private async Task<HttpResponseMessage> DeleteAsync(string? accessToken, Guid id)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, $"api/auth/users/{id}");
        if (accessToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }
        return await _client.SendAsync(request, TestContext.Current.CancellationToken);
    }
}
