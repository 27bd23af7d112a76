//! Feature `usb-serial`: the events as text lines on a USB CDC-ACM serial port
//! (embassy-usb on the nRF52840's USBD), for boards flashed through the Arduino
//! bootloader and read without a probe. The lines are `matpac tag --format text`'s
//! (`matpac_firmware_example::line`).
//!
//! The tagger never waits for the host: [`send`] queues the event in [`EVENTS`]
//! ([`EVENT_QUEUE`] deep) or drops it (counted in the defmt log). The USB task
//! always drains the queue; it discards events while no program has the port open
//! (DTR low), and while a program has it open but does not read, its write waits,
//! the queue fills and further events are dropped.
//!
//! The port also answers Arduino's "1200-baud touch" (a host opens it at 1200 baud
//! and closes it) by resetting into the bootloader, as the Arduino core for this
//! board does, so `arduino-cli upload` and `flash-bootloader.sh --touch` need no
//! double tap on the reset button.

use core::sync::atomic::{AtomicU32, Ordering};

use embassy_executor::{SendSpawner, Spawner};
use embassy_futures::join::join3;
use embassy_nrf::usb::Driver;
use embassy_nrf::usb::vbus_detect::{self, HardwareVbusDetect};
use embassy_nrf::{Peri, bind_interrupts, peripherals, usb};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use embassy_usb::class::cdc_acm::{CdcAcmClass, ControlChanged, Receiver, Sender, State};
use embassy_usb::{Builder, Config};
use matpac_firmware_example::line::EventLine;
use matpac_runtime::tagger::Event;

bind_interrupts!(struct UsbIrqs {
    USBD => usb::InterruptHandler<peripherals::USBD>;
    CLOCK_POWER => vbus_detect::InterruptHandler;
});

/// The pid.codes test VID/PID (1209:0001), for a device that is not distributed.
const VID_PID: (u16, u16) = (0x1209, 0x0001);
/// Bytes per USB packet (full-speed bulk endpoints; the control endpoint's too).
const MAX_PACKET: usize = 64;
/// Events waiting for the host.
const EVENT_QUEUE: usize = 8;
/// The baud rate whose setting, followed by closing the port, asks for the bootloader.
const TOUCH_BAUD: u32 = 1200;
/// What the Arduino bootloader finds in GPREGRET after a reset to stay in serial
/// bootloader mode (the Arduino core's `DFU_MAGIC_SERIAL_ONLY_RESET`).
const BOOTLOADER_MAGIC: u8 = 0x4e;

/// Events (and their class names, from the model bytes) from the tagger to the port.
static EVENTS: Channel<CriticalSectionRawMutex, (Event, &'static str), EVENT_QUEUE> =
    Channel::new();

/// Events dropped because [`EVENTS`] was full.
static UNSENT: AtomicU32 = AtomicU32::new(0);

/// Queues `event` for the serial port, or drops it (counted and logged) if the
/// queue is full.
pub fn send(event: Event, class_name: &'static str) {
    if EVENTS.try_send((event, class_name)).is_err() {
        let unsent = UNSENT.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        defmt::warn!("usb: {=u32} events not sent so far (queue full)", unsent);
    }
}

/// Starts the USB device on `spawner`'s executor (the interrupt executor, so that
/// the host's requests are answered while a window is inferred in thread mode).
pub fn start(spawner: SendSpawner, usbd: Peri<'static, peripherals::USBD>, sample_rate: u32) {
    match start_on_executor(usbd, sample_rate) {
        Ok(token) => spawner.spawn(token),
        Err(_) => defmt::error!("usb: task already spawned"),
    }
}

/// Spawns [`serve`], whose future (embassy-usb's device holds `dyn` handlers) is not
/// `Send`, with the spawner of the executor this task runs on.
#[embassy_executor::task]
async fn start_on_executor(usbd: Peri<'static, peripherals::USBD>, sample_rate: u32) {
    // SAFETY: awaited directly in an embassy task, so the waker in the `Context` is the
    // interrupt executor's own (embassy's documented use: the `Spawner` of an
    // `InterruptExecutor`).
    let spawner = unsafe { Spawner::for_current_executor() }.await;
    match serve(usbd, sample_rate) {
        Ok(token) => spawner.spawn(token),
        Err(_) => defmt::error!("usb: task already spawned"),
    }
}

/// The USB device (one CDC-ACM port) and the writer of the event lines.
#[embassy_executor::task]
async fn serve(usbd: Peri<'static, peripherals::USBD>, sample_rate: u32) {
    let driver = Driver::new(usbd, UsbIrqs, HardwareVbusDetect::new(UsbIrqs));
    let mut config = Config::new(VID_PID.0, VID_PID.1);
    config.manufacturer = Some("matpac-edge");
    config.product = Some("matpac nano33 tagger");
    // In this task's static future: the configuration descriptor (CDC-ACM: 75 B),
    // the BOS descriptor (12 B) and the control buffer.
    let mut config_descriptor = [0u8; 128];
    let mut bos_descriptor = [0u8; 32];
    let mut control = [0u8; MAX_PACKET];
    let mut state = State::new();
    let mut builder = Builder::new(
        driver,
        config,
        &mut config_descriptor,
        &mut bos_descriptor,
        &mut [],
        &mut control,
    );
    let class = CdcAcmClass::new(&mut builder, &mut state, MAX_PACKET as u16);
    let (mut sender, receiver, control) = class.split_with_control();
    let mut device = builder.build();
    join3(
        device.run(),
        write_events(&mut sender, sample_rate),
        bootloader_on_touch(&control, &receiver),
    )
    .await;
}

/// Resets into the bootloader when the host sets [`TOUCH_BAUD`] and drops DTR.
async fn bootloader_on_touch<'d>(
    control: &ControlChanged<'d>,
    receiver: &Receiver<'d, Driver<'d, HardwareVbusDetect>>,
) -> ! {
    loop {
        control.control_changed().await;
        if receiver.line_coding().data_rate() == TOUCH_BAUD && !control.dtr() {
            defmt::info!("usb: 1200-baud touch: resetting into the bootloader");
            nrf_pac::POWER
                .gpregret()
                .write(|w| w.set_gpregret(BOOTLOADER_MAGIC));
            cortex_m::peripheral::SCB::sys_reset();
        }
    }
}

/// Writes each queued event as one line while the port is open (DTR set).
async fn write_events<'d>(
    class: &mut Sender<'d, Driver<'d, HardwareVbusDetect>>,
    sample_rate: u32,
) -> ! {
    loop {
        let (event, class_name) = EVENTS.receive().await;
        if !class.dtr() {
            continue;
        }
        let Ok(line) = EventLine::new(&event, class_name, sample_rate) else {
            defmt::warn!("usb: event line longer than its buffer: not sent");
            continue;
        };
        let bytes = line.as_bytes();
        let mut sent = true;
        for packet in bytes.chunks(MAX_PACKET) {
            sent = sent && class.write_packet(packet).await.is_ok();
        }
        // A transfer ends with a short packet: a line that fills its last one whole
        // needs an empty one after it.
        if sent && bytes.len().is_multiple_of(MAX_PACKET) {
            let _ = class.write_packet(&[]).await;
        }
    }
}
