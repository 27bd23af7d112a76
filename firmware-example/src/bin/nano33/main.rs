//! Arduino Nano 33 BLE Sense (nRF52840, 64 MHz Cortex-M4F): PDM microphone → the
//! runtime's streaming tagger with the embedded int8 model (`models/tagger.onnx`),
//! events logged with defmt over RTT, the orange LED lit while any event is active.
//!
//! * Microphone: MP34DT05 on PDM, power P0.17 (high, then ~10 ms), CLK P0.26, DIN P0.25;
//!   16 kHz mono = 1.280 MHz PDM clock / ratio 80 (the 32 MHz crystal is on).
//! * LED: the orange LED on P0.13, active high.
//! * Two executors, the tagger's two halves (`matpac_runtime::tagger`). The PDM sampler
//!   (`run_task_sampler`, two 128-sample buffers, no gaps) runs on an interrupt executor
//!   at priority 6, so it preempts inference; its callback runs the `FeatureStream` (the
//!   fixed-point front end) and queues each 80-byte int8 frame in [`FRAMES`]. The
//!   thread-mode executor hands the frames to the `FrameTagger`, which runs the model
//!   every stride while frames keep arriving: the queue must hold the frames of one
//!   inference (its instruction count and share of real time: `measure.sh`, and
//!   `docs/results.md` in the repository), and 80-byte frames take far less RAM than
//!   buffering the PCM itself. The DWT cycle count of the
//!   slowest frame push is logged every second; frames that do not fit are counted and
//!   logged as overruns, never blocked on.
//! * With the `usb-serial` feature, the events also go out as `matpac tag` text lines
//!   on a USB CDC-ACM serial port ([`usb`]), for boards without a probe.

#![no_std]
#![no_main]

#[cfg(feature = "usb-serial")]
mod usb;

use cortex_m::peripheral::DWT;
use defmt_rtt as _;
use embassy_executor::{InterruptExecutor, Spawner};
use embassy_nrf::config::{Config, HfclkSource};
use embassy_nrf::gpio::{Level, Output, OutputDrive};
use embassy_nrf::interrupt;
use embassy_nrf::interrupt::{InterruptExt, Priority};
use embassy_nrf::pdm::{self, Frequency, Pdm, Ratio, SamplerState};
use embassy_nrf::{bind_interrupts, peripherals};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use embassy_time::Timer;
use matpac_firmware_example::tags::{ARENA_LEN, FRAME_LEN, MAX_CLASSES, WINDOW_LEN};
use matpac_runtime::tagger::{FeatureStream, FrameTagger, TaggerConfig};
use matpac_runtime::{Model, metadata};
use panic_probe as _;
use static_cell::StaticCell;

bind_interrupts!(struct Irqs {
    PDM => pdm::InterruptHandler<peripherals::PDM>;
});

/// The int8 tagger: `MATPAC_MODEL` at build time, default `models/tagger.onnx` (build.rs).
static MODEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/model.onnx"));
/// Samples per DMA buffer: 8 ms at 16 kHz.
const BUFFER_LEN: usize = 128;
/// Feature frames queued between the sampler and the tagger: 0.48 s at a 10 ms hop,
/// about twice what one inference of the default model takes at CPI 1.5
/// (`measure.sh`).
const FRAME_QUEUE: usize = 48;
/// Core clock, for turning DWT cycles into microseconds.
const CORE_HZ: u32 = 64_000_000;

/// int8 feature frames from the sampler to the tagger.
static FRAMES: Channel<CriticalSectionRawMutex, [i8; FRAME_LEN], FRAME_QUEUE> = Channel::new();
/// Runs the sampler task above thread mode.
static EXECUTOR_HIGH: InterruptExecutor = InterruptExecutor::new();
/// The sampler's front end (8.7 KB), here rather than in the task's future: a
/// task argument moved into an async fn is stored twice in its future.
static FEATURES: StaticCell<FeatureStream> = StaticCell::new();
/// The parsed model, built in place here for the same reasons.
static PARSED: StaticCell<Model<'static>> = StaticCell::new();

#[interrupt]
unsafe fn EGU1_SWI1() {
    // SAFETY: called only from its own interrupt handler, after `start` below.
    unsafe { EXECUTOR_HIGH.on_interrupt() }
}

/// Turns every PDM buffer into feature frames and queues them in [`FRAMES`]; counts
/// the frames that did not fit.
#[embassy_executor::task]
async fn sample(mut pdm: Pdm<'static>, features: &'static mut FeatureStream) {
    let mut bufs = [[0i16; BUFFER_LEN]; 2];
    let mut dropped = 0u32;
    loop {
        let result = pdm
            .run_task_sampler(&mut bufs, |buf| {
                let pushed = features.push(buf, |frame| {
                    let mut f = [0i8; FRAME_LEN];
                    for (d, &v) in f.iter_mut().zip(frame) {
                        *d = v;
                    }
                    if FRAMES.try_send(f).is_err() {
                        dropped = dropped.wrapping_add(1);
                        defmt::warn!("overrun: {=u32} feature frames dropped so far", dropped);
                    }
                    Ok::<(), ()>(())
                });
                let _ = pushed; // the frame callback above never fails
                SamplerState::Sampled
            })
            .await;
        if let Err(e) = result {
            defmt::error!("pdm: {}", e);
            Timer::after_millis(100).await;
        }
    }
}

#[embassy_executor::main]
async fn main(_spawner: Spawner) {
    let mut config = Config::default();
    config.hfclk_source = HfclkSource::ExternalXtal;
    let p = embassy_nrf::init(config);

    // Cycle counter for the cost of each frame (None if something else took the core
    // peripherals; then cycles read as 0).
    let dwt_ok = match cortex_m::Peripherals::take() {
        Some(mut cp) => {
            cp.DCB.enable_trace();
            cp.DWT.enable_cycle_counter();
            true
        }
        None => false,
    };

    let mut led = Output::new(p.P0_13, Level::Low, OutputDrive::Standard);
    let _mic_power = Output::new(p.P0_17, Level::High, OutputDrive::HighDrive);
    Timer::after_millis(10).await;

    let model: &'static Model<'static> = match Model::parse_in(PARSED.uninit(), MODEL) {
        Ok(model) => model,
        Err(e) => {
            defmt::error!("model: {}", e);
            halt(&mut led)
        }
    };
    // Built in its static: a local here would stay in this task's future (a
    // moved-from local keeps its slot until the end of its scope), and a value
    // returned through `Result` is copied through the stack.
    let features: &'static mut FeatureStream = match FeatureStream::init(FEATURES.uninit(), model) {
        Ok(f) if f.n_mels() == FRAME_LEN => f,
        Ok(f) => {
            defmt::error!(
                "model frames have {=usize} bands, the firmware {=usize}",
                f.n_mels(),
                FRAME_LEN
            );
            halt(&mut led)
        }
        Err(e) => {
            defmt::error!("front end: {}", e);
            halt(&mut led)
        }
    };
    let rate = features.config().sample_rate;
    let hop = features.config().hop_length as u32;
    let (window_len, arena_len) = (model.input_len(), model.arena_len());
    if window_len > WINDOW_LEN || arena_len > ARENA_LEN {
        defmt::error!(
            "model needs a {=usize} B window and a {=usize} B arena; the firmware reserves {=usize} and {=usize}",
            window_len,
            arena_len,
            WINDOW_LEN,
            ARENA_LEN
        );
        halt(&mut led);
    }
    let mut window = [0i8; WINDOW_LEN];
    let mut arena = [0u8; ARENA_LEN];
    let config = match TaggerConfig::for_model(model) {
        Ok(config) => config,
        Err(e) => {
            defmt::error!("tagger: {}", e);
            halt(&mut led)
        }
    };
    let mut tagger = match FrameTagger::<MAX_CLASSES>::new(
        model,
        config,
        &mut window[..window_len],
        &mut arena[..arena_len],
    ) {
        Ok(tagger) => tagger,
        Err(e) => {
            defmt::error!("tagger: {}", e);
            halt(&mut led)
        }
    };

    // 16 kHz = 1.280 MHz / 80 (embassy's default clock, 1.032 MHz, would give ≈ 12.9 kHz).
    let pdm_config = pdm::Config {
        frequency: Frequency::_1280k,
        ratio: Ratio::Ratio80,
        ..Default::default()
    };
    let pdm = Pdm::new(p.PDM, Irqs, p.P0_26, p.P0_25, pdm_config);
    interrupt::EGU1_SWI1.set_priority(Priority::P6);
    let high = EXECUTOR_HIGH.start(interrupt::EGU1_SWI1);
    match sample(pdm, features) {
        Ok(token) => high.spawn(token),
        Err(_) => {
            defmt::error!("sampler task: already spawned");
            halt(&mut led)
        }
    }
    defmt::info!(
        "matpac nano33: {=u32} Hz, {=usize} classes, window {=usize} B, arena {=usize} B, model {=usize} B, DWT {=bool}",
        rate,
        tagger.n_classes(),
        window_len,
        arena_len,
        MODEL.len(),
        dwt_ok
    );

    #[cfg(feature = "usb-serial")]
    usb::start(high, p.USBD, rate);
    // The class names borrow the model bytes, which are static.
    let class_names = model.metadata(metadata::CLASS_NAMES).unwrap_or("");
    let (mut worst_cycles, mut samples) = (0u32, 0u32);
    loop {
        let frame = FRAMES.receive().await;
        let start = DWT::cycle_count();
        let pushed = tagger.push_frame(&frame, |e| {
            let ms = |s: u64| s * 1000 / u64::from(rate);
            let name = metadata::list(class_names).nth(e.class).unwrap_or("");
            defmt::info!(
                "event class={=usize} ({=str}) onset={=u64} ms offset={=u64} ms score={=f32}",
                e.class,
                name,
                ms(e.onset),
                ms(e.offset),
                e.score
            );
            #[cfg(feature = "usb-serial")]
            usb::send(e, name);
        });
        if let Err(e) = pushed {
            defmt::error!("tagger: {}", e);
        }
        worst_cycles = worst_cycles.max(DWT::cycle_count().wrapping_sub(start));
        if (0..tagger.n_classes()).any(|c| tagger.is_active(c)) {
            led.set_high();
        } else {
            led.set_low();
        }
        samples += hop;
        if samples >= rate {
            defmt::info!(
                "1 s: slowest frame {=u32} cycles = {=u32} us",
                worst_cycles,
                worst_cycles / (CORE_HZ / 1_000_000)
            );
            samples -= rate;
            worst_cycles = 0;
        }
    }
}

/// Blinks the LED forever (after an error was logged). Blocking on purpose: an
/// `.await` in the error arms would keep the matched `Result`s (model, tagger)
/// alive in the main task's future next to their `Ok` values, ≈ 5 KB of RAM.
fn halt(led: &mut Output<'_>) -> ! {
    loop {
        led.toggle();
        cortex_m::asm::delay(CORE_HZ / 10); // ≈ 100 ms (at least one cycle per loop)
    }
}
