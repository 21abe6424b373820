using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;

namespace Portico.Loyalty.Apis;

/// <summary>
/// Collects what is wrong with a request's fields and fails the call with INVALID_ARGUMENT carrying a
/// <c>google.rpc.BadRequest</c> (in <c>grpc-status-details-bin</c>) that names each field.
/// </summary>
internal sealed class FieldViolations
{
    private readonly BadRequest _badRequest = new();

    public void Check(string field, string? problem)
    {
        if (problem is not null)
        {
            _badRequest.FieldViolations.Add(new BadRequest.Types.FieldViolation { Field = field, Description = problem });
        }
    }

    public void ThrowIfAny()
    {
        if (_badRequest.FieldViolations.Count > 0)
        {
            throw ToException();
        }
    }

    /// <summary>INVALID_ARGUMENT for a single field.</summary>
    public static RpcException For(string field, string problem)
    {
        var violations = new FieldViolations();
        violations.Check(field, problem);
        return violations.ToException();
    }

    private RpcException ToException()
    {
        var fields = string.Join(", ", _badRequest.FieldViolations.Select(v => v.Field).Distinct());
        var status = new Google.Rpc.Status
        {
            Code = (int)Code.InvalidArgument,
            Message = $"Invalid argument(s): {fields}. {_badRequest.FieldViolations[0].Description}",
            Details = { Any.Pack(_badRequest) },
        };
        return status.ToRpcException();
    }
}
