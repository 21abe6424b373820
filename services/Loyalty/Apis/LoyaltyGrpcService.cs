using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Authorization;
using Portico.Contracts.Loyalty.V1;
using Portico.Loyalty.Ledger;
using LoyaltyContract = Portico.Contracts.Loyalty.V1.Loyalty;

namespace Portico.Loyalty.Apis;

/// <summary>
/// <c>loyalty.v1.Loyalty</c>. Every call needs a valid access token. Accrue and Revert are service-to-service:
/// they take the user from the request and need the <c>service</c> or <c>admin</c> role. GetBalance and
/// ListEntries serve users (their own points, from the token's <c>sub</c>) and services (any user, named).
/// Faults are turned into statuses without exception text by <see cref="LoyaltyErrorInterceptor"/>.
/// </summary>
[Authorize]
internal sealed class LoyaltyGrpcService(PointsLedger ledger) : LoyaltyContract.LoyaltyBase
{
    [Authorize(Policy = LoyaltyPolicies.Service)]
    public override async Task<AccrueReply> Accrue(AccrueRequest request, ServerCallContext context)
    {
        var violations = new FieldViolations();
        violations.Check("user_id", LedgerRules.CheckId(request.UserId, "user_id"));
        violations.Check("order_id", LedgerRules.CheckId(request.OrderId, "order_id"));
        violations.Check("amount", LedgerRules.CheckAmount(request.Amount, "amount"));
        violations.ThrowIfAny();

        var change = await ledger.AccrueAsync(request.UserId, request.OrderId, request.Amount, context.CancellationToken);
        return change.Outcome switch
        {
            LedgerOutcome.Written or LedgerOutcome.Replayed => new AccrueReply { PointsEarned = change.Points, Balance = change.Balance },
            LedgerOutcome.Conflict => throw new RpcException(new Status(StatusCode.AlreadyExists,
                $"Order '{request.OrderId}' was already accrued with another user or amount; an order earns points once.")),
            LedgerOutcome.OrderReverted => throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"Order '{request.OrderId}' was reverted (cancelled or compensated); it earns no points.")),
            _ => throw new InvalidOperationException($"Unexpected accrual outcome {change.Outcome}."),
        };
    }

    [Authorize(Policy = LoyaltyPolicies.Service)]
    public override async Task<RevertReply> Revert(RevertRequest request, ServerCallContext context)
    {
        var violations = new FieldViolations();
        violations.Check("order_id", LedgerRules.CheckId(request.OrderId, "order_id"));
        violations.ThrowIfAny();

        var change = await ledger.RevertAsync(request.OrderId, context.CancellationToken);
        return change.Outcome switch
        {
            LedgerOutcome.Written or LedgerOutcome.Replayed => new RevertReply { PointsReverted = change.Points, Balance = change.Balance },
            LedgerOutcome.Tombstoned => new RevertReply { PointsReverted = 0, Balance = 0, NothingAccrued = true },
            LedgerOutcome.InsufficientBalance => throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"Reverting order '{request.OrderId}' would take {change.Points} points from a balance of {change.Balance}; a balance never goes below zero.")),
            _ => throw new InvalidOperationException($"Unexpected revert outcome {change.Outcome}."),
        };
    }

    public override async Task<Balance> GetBalance(GetBalanceRequest request, ServerCallContext context)
    {
        var userId = LoyaltyCaller.ResolveReadUser(context, request.UserId, "user_id");
        var points = await ledger.GetBalanceAsync(userId, context.CancellationToken);
        return new Balance { UserId = userId, Points = points };
    }

    public override async Task<ListEntriesReply> ListEntries(ListEntriesRequest request, ServerCallContext context)
    {
        var userId = LoyaltyCaller.ResolveReadUser(context, request.UserId, "user_id");

        var violations = new FieldViolations();
        if (request.PageSize < 0)
        {
            violations.Check("page_size", $"page_size must be from 1 to {LedgerRules.MaxPageSize}, or 0 for the default of {LedgerRules.DefaultPageSize}.");
        }
        long? beforeId = null;
        if (request.PageToken.Length > 0)
        {
            if (PageToken.TryRead(request.PageToken, userId, out var before))
            {
                beforeId = before;
            }
            else
            {
                violations.Check("page_token", "page_token is not a next_page_token this service gave for this user's entries.");
            }
        }
        violations.ThrowIfAny();

        var pageSize = request.PageSize == 0 ? LedgerRules.DefaultPageSize : Math.Min(request.PageSize, LedgerRules.MaxPageSize);
        var page = await ledger.ListAsync(userId, pageSize, beforeId, context.CancellationToken);
        var reply = new ListEntriesReply
        {
            NextPageToken = page.NextBeforeId is { } next ? PageToken.Create(userId, next) : "",
        };
        reply.Entries.AddRange(page.Entries.Select(e => new Contracts.Loyalty.V1.LedgerEntry
        {
            Id = e.Id,
            OrderId = e.OrderId,
            Kind = e.Kind == LedgerEntryKind.Accrual ? EntryKind.Accrual : EntryKind.Reversal,
            Points = e.Points,
            Amount = e.Amount,
            BalanceAfter = e.BalanceAfter,
            CreatedAt = Timestamp.FromDateTimeOffset(e.CreatedAt),
        }));
        return reply;
    }
}
