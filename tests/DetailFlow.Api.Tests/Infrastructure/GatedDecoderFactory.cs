using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using DetailFlow.Api.Hosting;
using DetailFlow.Core.Decoding;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using static TorchSharp.torch;

namespace DetailFlow.Api.Tests;

/// <summary>The service with its decoder wrapped in a <see cref="GatedDecoder"/> (through <see cref="DecoderBackendFactory"/>).</summary>
public sealed class GatedDecoderFactory : ApiFactory
{
    public GatedDecoder? Decoder { get; private set; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(services => services.AddSingleton<DecoderBackendFactory>(
            (options, tokenizer) => Decoder = new GatedDecoder(ModelLoader.CreateDecoder(options, tokenizer))));
    }
}
