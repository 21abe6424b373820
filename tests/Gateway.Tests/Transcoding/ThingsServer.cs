using System.Collections.Concurrent;
using System.Net;
using Google.Api;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Portico.Gateway.Tests.Transcoding.Protos;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;

namespace Portico.Gateway.Tests.Transcoding;

/// <summary>Which server reflection a <see cref="ThingsServer"/> offers.</summary>
public enum ReflectionMode
{
    None,
    V1,
    V1AlphaOnly,
}

/// <summary>
/// A real gRPC service (Grpc.AspNetCore on Kestrel, h2c, port 0) that the gateway is not built with: the gateway learns
/// it by server reflection or from a descriptor-set file. Its reflection can be switched to another version of the
/// contract while it runs, as a redeployed service would change.
/// </summary>
public sealed class ThingsServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ThingsServer(WebApplication app, Uri address, SwitchableReflection reflection, ThingsService service)
    {
        _app = app;
        Address = address;
        Reflection = reflection;
        Service = service;
    }

    public Uri Address { get; }

    /// <summary>What reflection says the service is: the full contract at start.</summary>
    public SwitchableReflection Reflection { get; }

    public ThingsService Service { get; }

    public static async Task<ThingsServer> StartAsync(ReflectionMode mode = ReflectionMode.V1, int port = 0)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        var service = new ThingsService();
        var reflection = new SwitchableReflection(Things.Descriptor);
        builder.Services.AddSingleton(service);
        builder.Services.AddSingleton(reflection);
        builder.Services.AddSingleton(new ReflectionServiceImpl(Things.Descriptor));
        var app = builder.Build();
        app.MapGrpcService<ThingsService>();
        if (mode == ReflectionMode.V1)
        {
            app.MapGrpcService<SwitchableReflection>();
        }
        else if (mode == ReflectionMode.V1AlphaOnly)
        {
            app.MapGrpcService<ReflectionServiceImpl>();
        }
        await app.StartAsync();
        var address = new Uri(app.Urls.Single());
        return new ThingsServer(app, new Uri($"http://127.0.0.1:{address.Port}/"), reflection, service);
    }

    /// <summary>The contract without one method, built at run time: an older version of the service.</summary>
    public static ServiceDescriptor ContractWithout(string method)
    {
        var file = ThingsReflection.Descriptor.ToProto();
        var service = file.Service.Single(s => s.Name == "Things");
        service.Method.Remove(service.Method.Single(m => m.Name == method));
        var files = DependencyOrder(ThingsReflection.Descriptor).Select(f => f == ThingsReflection.Descriptor ? file.ToByteString() : f.SerializedData);
        return FileDescriptor.BuildFromByteStrings(files, new ExtensionRegistry { AnnotationsExtensions.Http }).Last().Services.Single();
    }

    /// <summary>The bytes <c>protoc --descriptor_set_out --include_imports</c> writes for things.proto.</summary>
    public static byte[] DescriptorSet()
    {
        var set = new FileDescriptorSet();
        set.File.AddRange(DependencyOrder(ThingsReflection.Descriptor).Select(f => f.ToProto()));
        return set.ToByteArray();
    }

    private static List<FileDescriptor> DependencyOrder(FileDescriptor root)
    {
        var ordered = new List<FileDescriptor>();
        void Visit(FileDescriptor file)
        {
            foreach (var dependency in file.Dependencies)
            {
                Visit(dependency);
            }
            if (!ordered.Contains(file))
            {
                ordered.Add(file);
            }
        }
        Visit(root);
        return ordered;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>grpc.reflection.v1 over whichever version of the contract the test sets.</summary>
public sealed class SwitchableReflection(ServiceDescriptor initial) : Grpc.Reflection.V1.ServerReflection.ServerReflectionBase
{
    private volatile ReflectionV1ServiceImpl _current = new(initial);

    public void Serve(ServiceDescriptor contract) => _current = new ReflectionV1ServiceImpl(contract);

    public override Task ServerReflectionInfo(IAsyncStreamReader<Grpc.Reflection.V1.ServerReflectionRequest> requestStream,
        IServerStreamWriter<Grpc.Reflection.V1.ServerReflectionResponse> responseStream, ServerCallContext context) =>
        _current.ServerReflectionInfo(requestStream, responseStream, context);
}

/// <summary>The service: echoes, finds and creates things, streams them, and waits forever when asked to.</summary>
public sealed class ThingsService : Things.ThingsBase
{
    /// <summary>Every request message that arrived.</summary>
    public ConcurrentQueue<IMessage> Calls { get; } = new();

    public override Task<Everything> Echo(Everything request, ServerCallContext context)
    {
        Calls.Enqueue(request);
        return Task.FromResult(request);
    }

    /// <summary>A listing with the prefix "hold" waits after its first thing until this is set.</summary>
    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The metadata of every GetThing call.</summary>
    public ConcurrentQueue<Metadata> Headers { get; } = new();

    public override Task<Thing> GetThing(GetThingRequest request, ServerCallContext context)
    {
        Calls.Enqueue(request);
        Headers.Enqueue(context.RequestHeaders);
        if (request.Id == 404)
        {
            // NOT_FOUND with a google.rpc.Status in grpc-status-details-bin, as Google's APIs send it.
            var status = new Google.Rpc.Status { Code = (int)StatusCode.NotFound, Message = "no such thing" };
            status.Details.Add(Google.Protobuf.WellKnownTypes.Any.Pack(new Google.Rpc.ResourceInfo { ResourceType = "thing", ResourceName = "404" }));
            throw new RpcException(new Status(StatusCode.NotFound, "no such thing"), new Metadata { { "grpc-status-details-bin", status.ToByteArray() } });
        }
        return Task.FromResult(new Thing { Id = request.Id, Shelf = request.Shelf, Name = request.Verbose ? "thing " + request.Id : "", Color = Color.Red });
    }

    public override Task<CreateThingReply> CreateThing(CreateThingRequest request, ServerCallContext context)
    {
        Calls.Enqueue(request);
        var thing = request.Thing ?? new Thing();
        thing.Shelf = request.Shelf;
        return Task.FromResult(new CreateThingReply { Thing = thing, Note = "created" });
    }

    public override async Task ListThings(ListThingsRequest request, IServerStreamWriter<Thing> responseStream, ServerCallContext context)
    {
        Calls.Enqueue(request);
        for (var i = 1; i <= request.Count; i++)
        {
            await responseStream.WriteAsync(new Thing { Id = i, Name = request.Prefix + i });
            if (request.Prefix == "hold" && i == 1)
            {
                await Release.Task.WaitAsync(context.CancellationToken);
            }
        }
        if (request.FailWith != 0)
        {
            throw new RpcException(new Status((StatusCode)request.FailWith, "the listing broke off"));
        }
    }

    /// <summary>What each Wait call was told of its deadline: the raw <c>grpc-timeout</c>, and the time left by Grpc.AspNetCore's reading of it.</summary>
    public ConcurrentQueue<(string Header, TimeSpan Left)> Deadlines { get; } = new();

    public override async Task<Thing> Wait(GetThingRequest request, ServerCallContext context)
    {
        Calls.Enqueue(request);
        Deadlines.Enqueue((context.GetHttpContext().Request.Headers["grpc-timeout"].ToString(), context.Deadline - DateTime.UtcNow));
        try
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken); // answers only when the caller's deadline ends it
        }
        catch (OperationCanceledException)
        {
            Ended.Enqueue(request.Id);
            throw;
        }
        return new Thing();
    }

    /// <summary>The id of each Wait call that was ended (by the caller going away or its deadline), as it ended.</summary>
    public ConcurrentQueue<long> Ended { get; } = new();

    /// <summary>Every ArchiveThing request.</summary>
    public ConcurrentQueue<GetThingRequest> Archived { get; } = new();

    public override Task<Thing> ArchiveThing(GetThingRequest request, ServerCallContext context)
    {
        Archived.Enqueue(request);
        return Task.FromResult(new Thing { Id = request.Id, Name = "archived" });
    }

    public override Task<Thing> Hidden(Thing request, ServerCallContext context)
    {
        Calls.Enqueue(request);
        return Task.FromResult(request);
    }
}
